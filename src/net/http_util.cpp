// http_util.cpp — target parsing, token and origin checks, JSON responses.
#include "net/http_util.h"

#include <ctime>

#include "core/log.h"
#include "core/protocol.h"
#include "core/utf8.h"

namespace pglive {

namespace {

int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string decode(const std::string& s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out += char(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else if (s[i] == '+' && plus_is_space) {
            out += ' ';
        } else {
            out += s[i];
        }
    }
    return out;
}

}  // namespace

target parse_target_unchecked(const std::string& raw);

std::string target::one(const std::string& key) const {
    auto it = query.find(key);
    return it == query.end() ? "" : it->second;
}

std::vector<std::string> target::all(const std::string& key) const {
    std::vector<std::string> out;
    auto range = query.equal_range(key);
    for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
    return out;
}

namespace {

// "" when s may enter a JSON value and a file name; else what is wrong with it.
std::string text_problem(const std::string& s) {
    if (s.find('\0') != std::string::npos) return "holds a NUL byte";
    if (!valid_utf8(s)) return "is not valid UTF-8";
    return "";
}

}  // namespace

target parse_target(const std::string& raw) {
    target t = parse_target_unchecked(raw);
    if (auto p = text_problem(t.path); !p.empty()) {
        t.invalid = "the path " + p + " after percent-decoding";
        return t;
    }
    for (auto& [k, v] : t.query) {
        auto pk = text_problem(k), pv = text_problem(v);
        if (!pk.empty()) t.invalid = "a query parameter name " + pk + " after percent-decoding";
        else if (!pv.empty()) t.invalid = "query parameter '" + k + "' " + pv + " after percent-decoding";
        if (!t.invalid.empty()) return t;
    }
    return t;
}

std::string invalid_header(const http_request& req) {
    for (auto f : {http::field::origin, http::field::host, http::field::authorization}) {
        auto it = req.find(f);
        if (it == req.end()) continue;
        if (auto p = text_problem(std::string(it->value())); !p.empty())
            return "header " + std::string(it->name_string()) + " " + p;
    }
    auto it = req.find("Last-Event-ID");
    if (it != req.end())
        if (auto p = text_problem(std::string(it->value())); !p.empty()) return "header Last-Event-ID " + p;
    return "";
}

target parse_target_unchecked(const std::string& raw) {
    target t;
    auto q = raw.find('?');
    t.path = decode(raw.substr(0, q), false);
    if (q == std::string::npos) return t;
    std::string rest = raw.substr(q + 1);
    size_t at = 0;
    while (at <= rest.size()) {
        size_t amp = rest.find('&', at);
        if (amp == std::string::npos) amp = rest.size();
        std::string pair = rest.substr(at, amp - at);
        if (!pair.empty()) {
            auto eq = pair.find('=');
            if (eq == std::string::npos) t.query.emplace(decode(pair, true), "");
            else t.query.emplace(decode(pair.substr(0, eq), true), decode(pair.substr(eq + 1), true));
        }
        at = amp + 1;
    }
    return t;
}

access resolve_access(const net_context& ctx, const http_request& req, const target& t) {
    std::string token;
    auto auth = req.find(http::field::authorization);
    if (auth != req.end()) {
        std::string v(auth->value());
        if (v.rfind("Bearer ", 0) != 0) throw auth_error("Authorization header must be 'Bearer <token>'");
        token = v.substr(7);
    } else if (t.has("token")) {
        token = t.one("token");
    }
    if (token.empty()) return ctx.opt.anonymous;
    return verify_jwt(token, ctx.opt.token_secret, int64_t(std::time(nullptr)));
}

bool origin_allowed(const net_options& opt, const http_request& req) {
    auto o = req.find(http::field::origin);
    if (o == req.end()) return true;
    std::string origin(o->value());
    for (auto& a : opt.allowed_origins)
        if (a == "*" || a == origin) return true;
    // Same origin: a page served by this host, over http (or https, behind a TLS proxy).
    std::string host(req[http::field::host]);
    return !host.empty() && (origin == "http://" + host || origin == "https://" + host);
}

std::string request_origin(const http_request& req) {
    auto o = req.find(http::field::origin);
    return o == req.end() ? std::string() : std::string(o->value());
}

void allow_origin(http_response& res, const std::string& origin) {
    if (origin.empty()) return;
    res.set(http::field::access_control_allow_origin, origin);
    res.set(http::field::vary, "Origin");
}

http_response origin_refusal(net_context& ctx, const http_request& req) {
    std::string origin = request_origin(req);
    std::string why = "origin " + origin + " is not allowed: add it to allowed_origins (or * for any) in the server's config";
    bool log = false, full = false;
    {
        std::lock_guard<std::mutex> g(ctx.refused_origins_mu);
        if (ctx.refused_origins.size() < max_logged_origins) log = ctx.refused_origins.insert(origin).second;
        else if (!ctx.refused_origins.count(origin) && !ctx.refused_origins_full) full = ctx.refused_origins_full = true;
    }
    // Quoted with replacement: the origin and the path are what a client sent (the query, which
    // may hold a token, is left out).
    auto quote = [](const std::string& v) { return json(v).dump(-1, ' ', false, json::error_handler_t::replace); };
    if (log)
        log_warn("http: refused a request from origin " + quote(origin) + " to " +
                 quote(std::string(req.target().substr(0, req.target().find('?')))) + ": not in allowed_origins; logged once per origin");
    if (full) log_warn("http: " + std::to_string(max_logged_origins) +
                       " origins refused so far; refusals of further origins are not logged");
    auto res = error_response(req, http::status::forbidden, error_code::forbidden, why);
    allow_origin(res, origin);  // the refused page may read why
    return res;
}

http_response preflight_response(const http_request& req) {
    http_response res{http::status::no_content, req.version()};
    res.set(http::field::server, "pglive");
    res.set(http::field::access_control_allow_methods, "GET, HEAD, POST, OPTIONS");
    res.set(http::field::access_control_allow_headers, "Authorization, Content-Type, Last-Event-ID");
    res.set(http::field::access_control_max_age, "600");
    allow_origin(res, request_origin(req));
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
}

http_response json_response(const http_request& req, http::status status, const std::string& body) {
    http_response res{status, req.version()};
    res.set(http::field::server, "pglive");
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(req.keep_alive());
    res.body() = body;
    res.prepare_payload();
    return res;
}

http_response error_response(const http_request& req, http::status status, const std::string& code,
                             const std::string& message) {
    // Messages may quote what a client sent: never let a stray byte throw here.
    return json_response(req, status,
                         json{{"error", code}, {"message", message}}.dump(-1, ' ', false, json::error_handler_t::replace));
}

http::status refusal_status(const std::string& code) {
    if (code == error_code::forbidden) return http::status::forbidden;
    if (code == error_code::unknown_topic) return http::status::not_found;
    if (code == error_code::unauthorized) return http::status::unauthorized;
    if (code == error_code::internal) return http::status::internal_server_error;
    return http::status::bad_request;
}

}  // namespace pglive
