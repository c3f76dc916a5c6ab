// http_api.cpp — the JSON API's handlers: query checked by the shared validator, the hub or the callbacks asked, one response.
#include "net/http_api.h"

#include <algorithm>

#include "core/exact_json.h"
#include "core/log.h"
#include "core/protocol.h"
#include "net/poll_session.h"

namespace pglive {

namespace {

void refuse(const api_call& c, http::status status, const std::string& code, const std::string& message) {
    c.answer(error_response(c.req, status, code, message));
}

std::optional<std::string> param(const target& t, const char* name) {
    if (!t.has(name)) return std::nullopt;
    return t.one(name);
}

// A long-poll or REST rows request: one hub client, answered once.
void start_poll(const api_call& c, const subscribe_request& sub, poll_exchange::kind k, std::optional<int64_t> timeout) {
    auto done = [answer = c.answer, req = c.req](poll_answer a) {
        if (a.code.empty()) answer(json_response(req, http::status::ok, a.body));
        else answer(error_response(req, refusal_status(a.code), a.code, a.body));
    };
    std::make_shared<poll_session>(c.ctx, c.ex, c.who, sub, k, timeout, std::move(done))->start();
}

}  // namespace

void api_topics(const api_call& c) {
    c.ctx->runner->post([who = c.who, answer = c.answer, req = c.req](hub& h) {
        answer(json_response(req, http::status::ok, h.topics_json(who).dump()));
    });
}

void api_rows(const api_call& c, const std::string& topic) {
    subscribe_query q;
    q.topic = topic;
    q.filter = c.t.all("filter");
    q.group = c.t.all("group");
    q.aggregate = c.t.all("aggregate");
    q.limit = param(c.t, "limit");
    q.order = param(c.t, "order");
    subscribe_request sub;
    rows_form form;
    try {
        sub = parse_subscribe_query(q);
        form = parse_rows_form(param(c.t, "form"));
    } catch (const protocol_error& e) {
        return refuse(c, http::status::bad_request, e.code, e.what());
    }
    // The list form: the hub's snapshot is then an array in the shape's order, compared by the
    // columns' types as windows are (shape::snapshot_list).
    sub.list_rows = form == rows_form::list;
    start_poll(c, sub, poll_exchange::kind::rows, std::nullopt);
}

void api_poll(const api_call& c) {
    ++c.ctx->stats.polls_total;
    subscribe_query q;
    q.topic = c.t.one("topic");
    q.filter = c.t.all("filter");
    q.group = c.t.all("group");
    q.aggregate = c.t.all("aggregate");
    q.since = param(c.t, "since");
    subscribe_request sub;
    try {
        sub = parse_subscribe_query(q);
    } catch (const protocol_error& e) {
        return refuse(c, http::status::bad_request, e.code, e.what());
    }
    int64_t timeout = 25;
    if (c.t.has("timeout")) {
        auto n = parse_whole_number(c.t.one("timeout"));
        if (!n) return refuse(c, http::status::bad_request, error_code::bad_request, "'timeout' must be whole seconds");
        timeout = *n;
    }
    timeout = std::min<int64_t>(timeout, c.ctx->opt.poll_max_timeout_s);
    start_poll(c, sub, poll_exchange::kind::poll, timeout);
}

void api_publish(const api_call& c) {
    if (!c.who.authenticated)
        return refuse(c, http::status::unauthorized, error_code::unauthorized, "publishing needs a token with the publish right");
    if (!c.who.publish) return refuse(c, http::status::forbidden, error_code::forbidden, "this token has no publish right");
    json body;  // exact: a published 12345678901234567891.5 keeps its digits
    try {
        body = parse_exact(c.req.body());
    } catch (const exact_json_error&) {
        body = json(json::value_t::discarded);
    }
    if (body.is_discarded() || !body.is_object())
        return refuse(c, http::status::bad_request, error_code::bad_request, "body must be a JSON object");
    if (!body.contains("data")) return refuse(c, http::status::bad_request, error_code::bad_request, "missing field 'data'");
    bool to_topic = body.contains("topic"), to_user = body.contains("user");
    if (to_topic == to_user)
        return refuse(c, http::status::bad_request, error_code::bad_request, "give exactly one of 'topic' or 'user'");
    const json& dest = to_topic ? body["topic"] : body["user"];
    if (!dest.is_string() || dest.get<std::string>().empty())
        return refuse(c, http::status::bad_request, error_code::bad_request,
                      std::string("'") + (to_topic ? "topic" : "user") + "' must be a non-empty string");
    if (to_user) {
        c.ctx->runner->post([user = dest.get<std::string>(), data = body["data"]](hub& h) { h.publish_user(user, data); });
        return c.answer(json_response(c.req, http::status::ok, json{{"published", true}, {"user", dest}}.dump()));
    }
    if (!c.ctx->cb.publish_topic)
        return refuse(c, http::status::service_unavailable, error_code::unavailable, "publishing is not wired");
    c.ctx->cb.publish_topic(dest.get<std::string>(), body["data"], [answer = c.answer, req = c.req, dest](std::string error) {
        if (error.empty()) answer(json_response(req, http::status::ok, json{{"published", true}, {"topic", dest}}.dump()));
        else answer(error_response(req, http::status::service_unavailable, error_code::unavailable, error));
    });
}

void api_admin(const api_call& c, const std::string& what) {
    if (!c.who.authenticated)
        return refuse(c, http::status::unauthorized, error_code::unauthorized, "the admin API needs a token");
    if (!c.who.admin) return refuse(c, http::status::forbidden, error_code::forbidden, "this token has no admin right");
    auto respond = [answer = c.answer, req = c.req](int status, json body) {
        answer(json_response(req, http::int_to_status(unsigned(status)), body.dump()));
    };
    if (what == "status" && c.req.method() == http::verb::get && c.ctx->cb.admin_status) {
        c.ctx->cb.admin_status([respond](json s) {
            int status = s.contains("error") ? 503 : 200;  // before the move: argument order is unspecified
            respond(status, std::move(s));
        });
        return;
    }
    if ((what == "attach" || what == "detach") && c.req.method() == http::verb::post) {
        json body = json::parse(c.req.body(), nullptr, false);
        if (body.is_discarded() || !body.is_object() || !body.contains("table") || !body["table"].is_string())
            return refuse(c, http::status::bad_request, error_code::bad_request,
                          "body must be a JSON object with a string 'table'");
        auto& fn = what == "attach" ? c.ctx->cb.admin_attach : c.ctx->cb.admin_detach;
        if (fn) {
            fn(body, respond);
            return;
        }
    }
    refuse(c, http::status::not_found, error_code::not_found, "no such admin endpoint: " + what);
}

}  // namespace pglive
