// ws_session.cpp — accept, read loop, request dispatch, close reasons.
#include "net/ws_session.h"

#include <ctime>

#include "core/protocol.h"

namespace pglive {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

ws_session::ws_session(conn_stream&& stream, std::shared_ptr<net_context> ctx, shard& on, access who)
    : outbound(std::move(ctx), on), ws_(std::move(stream)), who_(std::move(who)) {}

ws_session::~ws_session() { --ctx_->stats.ws_open; }

void ws_session::run(http_request req) {
    ++ctx_->stats.ws_total;
    ++ctx_->stats.ws_open;
    ws_.next_layer().owner(shared_from_this());
    beast::get_lowest_layer(ws_).expires_never();  // the websocket stream's own timeouts take over
    // Beast pings after half the idle timeout and closes a peer that stays silent for all of it.
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(ctx_->opt.http_timeout_s);
    t.idle_timeout = std::chrono::seconds(2 * ctx_->opt.ping_interval_s + ctx_->opt.pong_timeout_s);
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(beast::http::field::server, "pglive"); }));
    ws_.read_message_max(ctx_->opt.max_message_bytes);  // larger: Beast closes with 1009
    ws_.text(true);
    ws_.async_accept(req, beast::bind_front_handler(&ws_session::on_accept, shared_from_this()));
}

void ws_session::on_accept(beast::error_code ec) {
    if (ec) return fail(ec, "accept");
    registered_ = true;
    ctx_->runner->post([id = id_, self = shared_from_this(), who = who_](hub& h) { h.connect(id, self, who); });
    log_debug("conn " + std::to_string(id_) + ": websocket open");
    arm_expiry(who_.expires);
    do_read();
}

void ws_session::do_read() { ws_.async_read(buffer_, beast::bind_front_handler(&ws_session::on_read, shared_from_this())); }

void ws_session::on_read(beast::error_code ec, size_t) {
    if (ec) return fail(ec, "read");
    std::string text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    try {
        handle(text);
    } catch (const std::exception& e) {  // no exception leaves a handler
        log_error("conn " + std::to_string(id_) + ": internal error handling a message: " + e.what());
        reply(error_message("", error_code::internal, "internal error; see the server log"));
    }
    do_read();
}

void ws_session::handle(const std::string& text) {
    client_request req;
    try {
        req = parse_client_request(text);
    } catch (const protocol_error& e) {
        reply(error_message(e.ref, e.code, e.what()));
        return;
    }
    if (auto* s = std::get_if<subscribe_request>(&req)) {
        ctx_->runner->post([id = id_, r = *s](hub& h) { h.subscribe(id, r); });
    } else if (auto* u = std::get_if<unsubscribe_request>(&req)) {
        ctx_->runner->post([id = id_, r = *u](hub& h) { h.unsubscribe(id, r); });
    } else if (auto* p = std::get_if<ping_request>(&req)) {
        reply(pong_message(p->ref));
    } else if (auto* a = std::get_if<auth_request>(&req)) {
        try {
            who_ = verify_jwt(a->token, ctx_->opt.token_secret, int64_t(std::time(nullptr)));
            ctx_->runner->post([id = id_, who = who_](hub& h) { h.set_access(id, who); });
            arm_expiry(who_.expires);  // a renewal moves the connection's deadline
            json ok = {{"type", "authenticated"}, {"user", who_.user}};
            if (!a->ref.empty()) ok["ref"] = a->ref;
            reply(ok.dump());
        } catch (const auth_error& e) {
            reply(error_message(a->ref, error_code::unauthorized, e.what()));
        }
    }
}

// Replies go through the same queue as hub frames, so the connection's order holds.
void ws_session::reply(const std::string& text) { enqueue(make_frame(text), frame_kind::reply); }

void ws_session::expired() {
    reply(error_message("", error_code::unauthorized,
                        "token expired; reconnect with a new token, or send {\"op\":\"auth\"} before it expires"));
    ws_.async_close(websocket::close_reason(websocket::close_code::policy_error, "token expired"),
                    [self = shared_from_this()](beast::error_code) { self->close_session("token expired"); });
}

void ws_session::fail(beast::error_code ec, const char* what) {
    if (closed_) return;
    std::string reason;
    if (ec == websocket::error::closed) reason = "closed by client";
    else if (ec == websocket::error::message_too_big) reason = "message over max_message_bytes (1009)";
    else if (ec == beast::error::timeout) reason = "no answer to pings (pong_timeout_s)";
    else if (ec == boost::asio::error::operation_aborted) reason = "server stopping";
    else reason = std::string(what) + ": " + ec.message();
    close_session(reason);
}

void ws_session::close_session(const std::string& reason) {
    closed_ = true;
    ctx_->stats.closed(reason);
    log_debug("conn " + std::to_string(id_) + ": websocket closed: " + reason);
    if (registered_) ctx_->runner->post([id = id_](hub& h) { h.disconnect(id); });
    drop_queued();
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
}

}  // namespace pglive
