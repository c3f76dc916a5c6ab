// http_session.cpp — one HTTP connection's reads, routing (PROTOCOL §3) and responses; files, health and metrics served here, the API in http_api.cpp.
#include "net/http_session.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/beast/websocket.hpp>

#include "core/log.h"
#include "core/protocol.h"
#include "net/http_api.h"
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
    cors_origin_.clear();
    ++ctx_->stats.http_requests;
    // No exception leaves a handler: a bug answers this request with a 500 and one log line.
    try {
        route();
    } catch (const std::exception& e) {
        log_error(std::string("http: internal error while serving a request: ") + e.what());
        auto res = error_response(req_, http::status::internal_server_error, error_code::internal, "internal error; see the server log");
        res.keep_alive(false);
        send(std::move(res));
    }
}

void http_session::send(http_response res) {
    if (!cors_origin_.empty() && res.find(http::field::access_control_allow_origin) == res.end())
        allow_origin(res, cors_origin_);
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

    // CORS (PROTOCOL §3): the API, /poll and /healthz answer pages of the allowed origins (one
    // check for every transport: origin_allowed). Another origin gets a 403 naming it, preflight
    // or not; WebSocket and SSE refuse it below, as before.
    bool api = path == "/ws" || path == "/sse" || path == "/poll" || path == "/metrics" || path.rfind("/api/", 0) == 0;
    bool cors = !metrics_only_ && (path == "/poll" || path == "/healthz" || path.rfind("/api/", 0) == 0);
    if (cors && req_.count(http::field::origin)) {
        if (!origin_allowed(ctx_->opt, req_)) return send(origin_refusal(*ctx_, req_));
        cors_origin_ = request_origin(req_);
    }
    if (cors && req_.method() == http::verb::options) return send(preflight_response(req_));

    if (path == "/healthz") {
        auto [up, why] = ctx_->cb.health ? ctx_->cb.health() : std::pair<bool, std::string>{true, ""};
        json body = up ? json{{"status", "ok"}} : json{{"status", "unavailable"}, {"reason", why}};
        return send(json_response(req_, up ? http::status::ok : http::status::service_unavailable, body.dump()));
    }
    if (metrics_only_) {
        if (path == "/metrics" && get) return serve_metrics();
        return send(error_response(req_, http::status::not_found, error_code::not_found,
                                   "this is the metrics listener: only /metrics and /healthz"));
    }

    // The dashboard's files are public: a bad ?token= in the page's URL must not keep the
    // page from loading to say so.
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
        if (!origin_allowed(ctx_->opt, req_)) return send(origin_refusal(*ctx_, req_));
        std::make_shared<ws_session>(std::move(stream_), ctx_, shard_, std::move(who))->run(std::move(req_));
        return;
    }
    if (path == "/sse") {
        if (!origin_allowed(ctx_->opt, req_)) return send(origin_refusal(*ctx_, req_));
        subscribe_query q;
        q.topic = t.one("topic");
        q.filter = t.all("filter");
        q.group = t.all("group");
        q.aggregate = t.all("aggregate");
        if (t.has("limit")) q.limit = t.one("limit");
        if (t.has("order")) q.order = t.one("order");
        std::string since = std::string(req_["Last-Event-ID"]);  // it wins over ?since=
        if (since.empty()) since = t.one("since");
        if (!since.empty()) q.since = since;
        q.since_name = "'since' (or Last-Event-ID)";
        subscribe_request sub;
        try {
            sub = parse_subscribe_query(q);
        } catch (const protocol_error& e) {
            return send(error_response(req_, http::status::bad_request, e.code, e.what()));
        }
        stream_.expires_never();
        std::make_shared<sse_session>(std::move(stream_), ctx_, shard_, std::move(who))->run(std::move(req_), std::move(sub));
        return;
    }
    api_call call{req_, t, who, ctx_, stream_.get_executor(), later()};
    if (path == "/poll" && get) {
        stream_.expires_never();  // the answer may take up to poll_max_timeout_s
        return api_poll(call);
    }
    if (path == "/api/topics" && get) return api_topics(call);
    if (path.rfind("/api/topics/", 0) == 0 && path.size() > 17 && path.compare(path.size() - 5, 5, "/rows") == 0 && get)
        return api_rows(call, path.substr(12, path.size() - 17));
    if (path == "/api/publish") {
        if (req_.method() != http::verb::post)
            return send(error_response(req_, http::status::method_not_allowed, error_code::bad_request, "use POST"));
        return api_publish(call);
    }
    if (path.rfind("/api/admin/", 0) == 0) return api_admin(call, path.substr(11));
    send(error_response(req_, http::status::not_found, error_code::not_found, "no such endpoint: " + path));
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
            return send(error_response(req_, http::status::not_found, error_code::not_found, "no such file: " + path));
    fs::path file = fs::path(ctx_->opt.dashboard_dir) / fs::path(path).relative_path();
    std::ifstream in(file, std::ios::binary);
    if (!in || fs::is_directory(file))
        return send(error_response(req_, http::status::not_found, error_code::not_found, "no such file: " + path));
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

}  // namespace pglive
