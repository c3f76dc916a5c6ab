// http_session.cpp — routing of PROTOCOL §3: files, health, metrics, REST, long-poll, publish,
// admin, and the upgrades to WebSocket and SSE.
#include "net/http_session.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/beast/websocket.hpp>

#include "core/exact_json.h"
#include "core/log.h"
#include "core/protocol.h"
#include "net/sse_session.h"
#include "net/ws_session.h"

namespace pglive {

namespace beast = boost::beast;
namespace fs = std::filesystem;

namespace {

const char* mime_type(const std::string& path) {
    auto ext = fs::path(path).extension().string();
    if (ext == ".html") return "text/html; charset=utf-8";
    if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
    if (ext == ".css") return "text/css; charset=utf-8";
    if (ext == ".json") return "application/json";
    if (ext == ".svg") return "image/svg+xml";
    if (ext == ".png") return "image/png";
    if (ext == ".ico") return "image/x-icon";
    return "application/octet-stream";
}

http::status status_of(int code) { return http::int_to_status(unsigned(code)); }

// "10" → 10; anything else → nullopt.
std::optional<int64_t> whole_number(const std::string& s) {
    if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return std::stoll(s);
}

}  // namespace

http_session::http_session(conn_socket&& socket, std::shared_ptr<net_context> ctx, shard& on, bool metrics_only)
    : stream_(std::move(socket)), ctx_(std::move(ctx)), shard_(on), metrics_only_(metrics_only) {}

void http_session::run() {
    boost::asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&http_session::do_read, shared_from_this()));
}

void http_session::do_read() {
    parser_.emplace();
    parser_->body_limit(ctx_->opt.max_http_body);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(std::chrono::seconds(ctx_->opt.http_timeout_s));
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&http_session::on_read, shared_from_this()));
}

void http_session::on_read(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream || ec == boost::asio::error::eof) {
        beast::error_code ignored;
        stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
        return;
    }
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
        http_request r;
        r.version(11);
        auto res = error_response(r, http::status::payload_too_large, "bad_request",
                                  std::string("request too large (") +
                                      (ec == http::error::body_limit ? "max_http_body" : "16 KiB of headers") + ")");
        res.keep_alive(false);
        return send(std::move(res));
    }
    if (ec && ec.category() == beast::error_code(http::error::bad_target).category() && ec != http::error::partial_message) {
        // Malformed HTTP: say so once, then close (the stream's framing cannot be trusted).
        http_request r;
        r.version(11);
        auto res = error_response(r, http::status::bad_request, error_code::bad_request, "malformed HTTP request: " + ec.message());
        res.keep_alive(false);
        return send(std::move(res));
    }
    if (ec) return;  // timeouts and resets: nothing to answer
    req_ = parser_->release();
    ++ctx_->stats.http_requests;
    // No exception leaves a handler: a bug answers this request with a 500 and one log line.
    try {
        route();
    } catch (const std::exception& e) {
        log_error(std::string("http: internal error while serving a request: ") + e.what());
        auto res = error_response(req_, http::status::internal_server_error, "internal", "internal error; see the server log");
        res.keep_alive(false);
        send(std::move(res));
    }
}

void http_session::send(http_response res) {
    auto sp = std::make_shared<http_response>(std::move(res));
    stream_.expires_after(std::chrono::seconds(ctx_->opt.http_timeout_s));
    http::async_write(stream_, *sp, [self = shared_from_this(), sp](beast::error_code ec, size_t) {
        if (ec) return;
        if (!sp->keep_alive()) {
            beast::error_code ignored;
            self->stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
            return;
        }
        self->do_read();
    });
}

std::function<void(http_response)> http_session::later() {
    return [self = shared_from_this()](http_response res) {
        boost::asio::post(self->stream_.get_executor(), [self, res = std::move(res)]() mutable { self->send(std::move(res)); });
    };
}

void http_session::route() {
    target t = parse_target(std::string(req_.target()));
    if (t.invalid.empty()) t.invalid = invalid_header(req_);
    if (!t.invalid.empty())  // every byte is validated before it can reach a JSON value or a file name
        return send(error_response(req_, http::status::bad_request, error_code::bad_request, t.invalid));
    const std::string& path = t.path;
    bool get = req_.method() == http::verb::get || req_.method() == http::verb::head;

    if (path == "/healthz") {
        auto [up, why] = ctx_->cb.health ? ctx_->cb.health() : std::pair<bool, std::string>{true, ""};
        json body = up ? json{{"status", "ok"}} : json{{"status", "unavailable"}, {"reason", why}};
        return send(json_response(req_, up ? http::status::ok : http::status::service_unavailable, body.dump()));
    }
    if (metrics_only_) {
        if (path == "/metrics" && get) return serve_metrics();
        return send(error_response(req_, http::status::not_found, "not_found",
                                   "this is the metrics listener: only /metrics and /healthz"));
    }

    // The dashboard's files are public: a bad ?token= in the page's URL must not keep the
    // page from loading to say so.
    bool api = path == "/ws" || path == "/sse" || path == "/poll" || path == "/metrics" || path.rfind("/api/", 0) == 0;
    if (get && !api) return serve_file(path == "/" ? "/index.html" : path);

    access who;
    try {
        who = resolve_access(*ctx_, req_, t);
    } catch (const auth_error& e) {
        return send(error_response(req_, http::status::unauthorized, error_code::unauthorized, e.what()));
    }

    if (path == "/metrics") {  // topic names and counts are not for everyone
        if (!ctx_->opt.metrics_public && !who.metrics && !who.admin)
            return send(error_response(req_, who.authenticated ? http::status::forbidden : http::status::unauthorized,
                                       who.authenticated ? error_code::forbidden : error_code::unauthorized,
                                       "/metrics needs a token with the metrics or admin right (or metrics_listen)"));
        return serve_metrics();
    }
    if (path == "/ws") {
        if (!beast::websocket::is_upgrade(req_))
            return send(error_response(req_, http::status::bad_request, error_code::bad_request,
                                       "/ws expects a WebSocket upgrade"));
        if (!origin_allowed(ctx_->opt, req_))
            return send(error_response(req_, http::status::forbidden, error_code::forbidden,
                                       "origin " + std::string(req_[http::field::origin]) +
                                           " is not allowed (allowed_origins)"));
        std::make_shared<ws_session>(std::move(stream_), ctx_, shard_, std::move(who))->run(std::move(req_));
        return;
    }
    if (path == "/sse") {
        if (!origin_allowed(ctx_->opt, req_))
            return send(error_response(req_, http::status::forbidden, error_code::forbidden,
                                       "origin " + std::string(req_[http::field::origin]) +
                                           " is not allowed (allowed_origins)"));
        subscribe_request sub;
        sub.topic = t.one("topic");
        if (sub.topic.empty())
            return send(error_response(req_, http::status::bad_request, error_code::bad_request, "missing parameter 'topic'"));
        sub.sub = sub.topic;
        sub.filter = t.all("filter");
        sub.order = t.one("order");
        if (t.has("limit")) {
            auto n = whole_number(t.one("limit"));
            if (!n || *n == 0 || *n > 100000)
                return send(error_response(req_, http::status::bad_request, error_code::bad_request,
                                           "'limit' must be a positive integer no larger than 100000"));
            sub.limit = n;
        }
        std::string since = std::string(req_["Last-Event-ID"]);
        if (since.empty()) since = t.one("since");
        if (!since.empty()) {
            auto n = whole_number(since);
            if (!n)
                return send(error_response(req_, http::status::bad_request, error_code::bad_request,
                                           "'since' (or Last-Event-ID) must be a position"));
            sub.since = n;
        }
        stream_.expires_never();
        std::make_shared<sse_session>(std::move(stream_), ctx_, shard_, std::move(who))->run(std::move(req_), std::move(sub));
        return;
    }
    if (path == "/poll" && get) return serve_poll(t, who);
    if (path == "/api/topics" && get) {
        ctx_->runner->post([who, done = later(), req = req_](hub& h) {
            done(json_response(req, http::status::ok, h.topics_json(who).dump()));
        });
        return;
    }
    if (path.rfind("/api/topics/", 0) == 0 && path.size() > 17 && path.compare(path.size() - 5, 5, "/rows") == 0 && get) {
        std::string topic = path.substr(12, path.size() - 17);
        std::optional<int64_t> limit;
        if (t.has("limit")) {
            limit = whole_number(t.one("limit"));
            if (!limit || *limit == 0)
                return send(error_response(req_, http::status::bad_request, error_code::bad_request,
                                           "'limit' must be a positive integer"));
        }
        ctx_->runner->post([topic, filter = t.all("filter"), limit, order = t.one("order"), who, done = later(),
                            req = req_](hub& h) {
            h.rows(topic, filter, limit, order, who,
                   [done, req](poll_answer a) { done(json_response(req, status_of(a.status), a.body)); });
        });
        return;
    }
    if (path == "/api/publish") {
        if (req_.method() != http::verb::post)
            return send(error_response(req_, http::status::method_not_allowed, error_code::bad_request, "use POST"));
        return serve_publish(who);
    }
    if (path.rfind("/api/admin/", 0) == 0) return serve_admin(path.substr(11), who);
    send(error_response(req_, http::status::not_found, "not_found", "no such endpoint: " + path));
}

void http_session::serve_metrics() {
    std::string text = net_metrics_text(ctx_->stats);
    if (ctx_->cb.metrics) text += ctx_->cb.metrics();
    http_response res{http::status::ok, req_.version()};
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.keep_alive(req_.keep_alive());
    res.body() = std::move(text);
    res.prepare_payload();
    send(std::move(res));
}

void http_session::serve_file(const std::string& path) {
    // Only plain names below the dashboard directory: no "..", no hidden files.
    for (auto& part : fs::path(path))
        if (part == ".." || (part.string().size() > 1 && part.string()[0] == '.'))
            return send(error_response(req_, http::status::not_found, "not_found", "no such file: " + path));
    fs::path file = fs::path(ctx_->opt.dashboard_dir) / fs::path(path).relative_path();
    std::ifstream in(file, std::ios::binary);
    if (!in || fs::is_directory(file))
        return send(error_response(req_, http::status::not_found, "not_found", "no such file: " + path));
    std::stringstream ss;
    ss << in.rdbuf();
    http_response res{http::status::ok, req_.version()};
    res.set(http::field::server, "pglive");
    res.set(http::field::content_type, mime_type(file.string()));
    res.set(http::field::cache_control, "no-cache");
    // The client library (pglive.js and the modules it imports) may be imported by pages of any
    // origin (it holds no secret).
    if (file.extension() == ".js") res.set(http::field::access_control_allow_origin, "*");
    res.keep_alive(req_.keep_alive());
    res.body() = ss.str();
    res.prepare_payload();
    if (req_.method() == http::verb::head) res.body().clear();
    send(std::move(res));
}

void http_session::serve_poll(const target& t, const access& who) {
    ++ctx_->stats.polls_total;
    poll_request pr;
    pr.topic = t.one("topic");
    pr.filter = t.all("filter");
    pr.who = who;
    if (pr.topic.empty())
        return send(error_response(req_, http::status::bad_request, error_code::bad_request, "missing parameter 'topic'"));
    if (t.has("since")) {
        auto n = whole_number(t.one("since"));
        if (!n) return send(error_response(req_, http::status::bad_request, error_code::bad_request, "'since' must be a position"));
        pr.since = n;
    }
    int64_t timeout = 25;
    if (t.has("timeout")) {
        auto n = whole_number(t.one("timeout"));
        if (!n) return send(error_response(req_, http::status::bad_request, error_code::bad_request,
                                           "'timeout' must be whole seconds"));
        timeout = *n;
    }
    timeout = std::min<int64_t>(timeout, ctx_->opt.poll_max_timeout_s);
    // The answer may come at once (inside hub::poll) or later; the timer cancels it.
    auto answered = std::make_shared<std::atomic<bool>>(false);
    auto done = later();
    auto req = req_;
    stream_.expires_never();
    ctx_->runner->post([self = shared_from_this(), pr, done, req, answered, timeout](hub& h) {
        uint64_t token = h.poll(pr, [done, req, answered](poll_answer a) {
            answered->store(true);
            done(json_response(req, status_of(a.status), a.body));
        });
        if (answered->load() || token == 0) return;
        boost::asio::post(self->stream_.get_executor(), [self, token, timeout] {
            self->poll_timer_ = std::make_unique<boost::asio::steady_timer>(self->stream_.get_executor());
            self->poll_timer_->expires_after(std::chrono::seconds(timeout));
            self->poll_timer_->async_wait([self, token](beast::error_code ec) {
                if (ec) return;
                self->ctx_->runner->post([token](hub& h) { h.cancel_poll(token); });
            });
        });
    });
}

void http_session::serve_publish(const access& who) {
    if (!who.authenticated)
        return send(error_response(req_, http::status::unauthorized, error_code::unauthorized,
                                   "publishing needs a token with the publish right"));
    if (!who.publish)
        return send(error_response(req_, http::status::forbidden, error_code::forbidden,
                                   "this token has no publish right"));
    json body;  // exact: a published 12345678901234567891.5 keeps its digits
    try {
        body = parse_exact(req_.body());
    } catch (const exact_json_error&) {
        body = json(json::value_t::discarded);
    }
    if (body.is_discarded() || !body.is_object())
        return send(error_response(req_, http::status::bad_request, error_code::bad_request, "body must be a JSON object"));
    if (!body.contains("data"))
        return send(error_response(req_, http::status::bad_request, error_code::bad_request, "missing field 'data'"));
    bool to_topic = body.contains("topic"), to_user = body.contains("user");
    if (to_topic == to_user)
        return send(error_response(req_, http::status::bad_request, error_code::bad_request,
                                   "give exactly one of 'topic' or 'user'"));
    const json& dest = to_topic ? body["topic"] : body["user"];
    if (!dest.is_string() || dest.get<std::string>().empty())
        return send(error_response(req_, http::status::bad_request, error_code::bad_request,
                                   std::string("'") + (to_topic ? "topic" : "user") + "' must be a non-empty string"));
    if (to_user) {
        ctx_->runner->post([user = dest.get<std::string>(), data = body["data"]](hub& h) { h.publish_user(user, data); });
        return send(json_response(req_, http::status::ok, json{{"published", true}, {"user", dest}}.dump()));
    }
    if (!ctx_->cb.publish_topic)
        return send(error_response(req_, http::status::service_unavailable, "unavailable", "publishing is not wired"));
    ctx_->cb.publish_topic(dest.get<std::string>(), body["data"], [done = later(), req = req_, dest](std::string error) {
        if (error.empty()) done(json_response(req, http::status::ok, json{{"published", true}, {"topic", dest}}.dump()));
        else done(error_response(req, http::status::service_unavailable, "unavailable", error));
    });
}

void http_session::serve_admin(const std::string& what, const access& who) {
    if (!who.authenticated)
        return send(error_response(req_, http::status::unauthorized, error_code::unauthorized, "the admin API needs a token"));
    if (!who.admin)
        return send(error_response(req_, http::status::forbidden, error_code::forbidden, "this token has no admin right"));
    auto done = later();
    auto req = req_;
    auto answer = [done, req](int status, json body) { done(json_response(req, status_of(status), body.dump())); };
    if (what == "status" && req_.method() == http::verb::get && ctx_->cb.admin_status) {
        ctx_->cb.admin_status([answer](json s) {
            int status = s.contains("error") ? 503 : 200;  // before the move: argument order is unspecified
            answer(status, std::move(s));
        });
        return;
    }
    if ((what == "attach" || what == "detach") && req_.method() == http::verb::post) {
        json body = json::parse(req_.body(), nullptr, false);
        if (body.is_discarded() || !body.is_object() || !body.contains("table") || !body["table"].is_string())
            return send(error_response(req_, http::status::bad_request, error_code::bad_request,
                                       "body must be a JSON object with a string 'table'"));
        auto& fn = what == "attach" ? ctx_->cb.admin_attach : ctx_->cb.admin_detach;
        if (fn) {
            fn(body, answer);
            return;
        }
    }
    send(error_response(req_, http::status::not_found, "not_found", "no such admin endpoint: " + what));
}

}  // namespace pglive
