// sse_session.cpp — refused or subscribed in one hub visit, then streamed; pings as comments; a pending read notices the peer leaving.
#include "net/sse_session.h"

#include "core/protocol.h"

namespace pglive {

namespace beast = boost::beast;

sse_session::sse_session(conn_stream&& stream, std::shared_ptr<net_context> ctx, shard& on, access who)
    : outbound(std::move(ctx), on), stream_(std::move(stream)), who_(std::move(who)), ping_timer_(stream_.get_executor()) {}

sse_session::~sse_session() {
    if (registered_) --ctx_->stats.sse_open;
}

void sse_session::run(http_request req, subscribe_request sub) {
    req_ = std::move(req);
    sub_ = std::move(sub);
    // Refusals (forbidden, unknown topic, bad filter) are HTTP answers, so EventSource's
    // onerror sees them, never a 200 followed by an error event. One visit to the hub: refused,
    // or connected and subscribed, its frames held in the inbox until the stream has its head.
    ctx_->runner->post([self = shared_from_this()](hub& h) {
        if (auto why = h.refusal(self->sub_, self->who_)) {
            boost::asio::post(self->executor(), [self, why = *why] { self->refuse(refusal_status(why.code), why.code, why.what()); });
            return;
        }
        boost::asio::post(self->executor(), [self] { self->start_stream(); });
        h.connect(self->id_, self, self->who_);
        h.subscribe(self->id_, self->sub_);
    });
}

void sse_session::drain() {
    if (streaming_) outbound::drain();  // before the head is queued, the hub's frames wait
}

void sse_session::refuse(http::status status, const std::string& code, const std::string& message) {
    auto res = std::make_shared<http_response>(error_response(req_, status, code, message));
    res->keep_alive(false);
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code, size_t) {
        beast::error_code ignored;
        self->stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    });
}

void sse_session::start_stream() {
    ++ctx_->stats.sse_total;
    ++ctx_->stats.sse_open;
    registered_ = true;
    streaming_ = true;
    std::string head = "HTTP/1.1 200 OK\r\nServer: pglive\r\nContent-Type: text/event-stream\r\n"
                       "Cache-Control: no-cache\r\nConnection: keep-alive\r\nX-Accel-Buffering: no\r\n";
    if (auto o = req_.find(http::field::origin); o != req_.end())
        head += "Access-Control-Allow-Origin: " + std::string(o->value()) + "\r\nVary: Origin\r\n";
    // The retry hint keeps EventSource's reconnect (with Last-Event-ID) quick.
    head += "\r\nretry: 1000\n\n";
    enqueue(make_frame(std::move(head)), frame_kind::reply);
    outbound::drain();  // what the hub sent meanwhile, behind the head
    watch_peer();
    schedule_ping();
    arm_expiry(who_.expires);
}

void sse_session::expired() {
    // EventSource reconnects by itself; with the same token it then gets 401 and stops.
    enqueue(make_frame("event: error\ndata: " +
                       error_message("", error_code::unauthorized, "token expired; reconnect with a new token") + "\n\n"),
            frame_kind::reply);
    end_after_drain("token expired");
}

// The client sends nothing after its request; a read completing means it left.
void sse_session::watch_peer() {
    stream_.socket().async_read_some(boost::asio::buffer(probe_), [self = shared_from_this()](beast::error_code ec, size_t) {
        if (ec) self->fail(ec, "peer");
        else self->watch_peer();
    });
}

void sse_session::schedule_ping() {
    ping_timer_.expires_after(std::chrono::seconds(ctx_->opt.ping_interval_s));
    ping_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (ec || self->closed_) return;
        self->enqueue(make_frame(": ping\n\n"), frame_kind::reply);
        self->schedule_ping();
    });
}

void sse_session::fail(beast::error_code ec, const char* what) {
    if (closed_) return;
    closed_ = true;
    std::string reason = !ec ? std::string(what)
                         : ec == boost::asio::error::eof ? "closed by client"
                         : ec == beast::error::timeout ? "write timed out (ping_interval_s + pong_timeout_s)"
                                                       : std::string(what) + ": " + ec.message();
    ctx_->stats.closed("sse " + reason);
    if (registered_) ctx_->runner->post([id = id_](hub& h) { h.disconnect(id); });
    ping_timer_.cancel();
    drop_queued();
    beast::error_code ignored;
    stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
}

}  // namespace pglive
