// server.cpp — the listener: accepts connections, each on its own strand, and hands them to http_session.
#include "net/server.h"

#include <boost/asio/strand.hpp>

#include "core/log.h"
#include "core/prometheus.h"
#include "net/http_session.h"

namespace pglive {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

server::server(asio::io_context& io, hub_runner& runner, net_options opt, net_callbacks cb)
    : io_(io), ctx_(std::make_shared<net_context>()), acceptor_(asio::make_strand(io)) {
    ctx_->opt = std::move(opt);
    ctx_->cb = std::move(cb);
    ctx_->runner = &runner;
    for (int i = 0; i < 4; ++i) ctx_->shards.push_back(std::make_shared<shard>(io));
}

server::~server() = default;

std::string server::metrics_text() const { return net_metrics_text(*ctx_); }

std::string net_metrics_text(net_context& ctx) {
    namespace prom = prometheus;
    auto& s = ctx.stats;
    std::string text;
    prom::metric(text, "pglive_http_requests_total", "HTTP requests read", "counter", double(s.http_requests));
    prom::metric(text, "pglive_connections", "open WebSocket and SSE connections", "gauge", double(s.ws_open + s.sse_open));
    prom::metric(text, "pglive_websocket_connections", "open WebSocket connections", "gauge", double(s.ws_open));
    prom::metric(text, "pglive_sse_connections", "open SSE streams", "gauge", double(s.sse_open));
    prom::metric(text, "pglive_websocket_connections_total", "WebSocket connections accepted", "counter", double(s.ws_total));
    prom::metric(text, "pglive_sse_connections_total", "SSE streams started", "counter", double(s.sse_total));
    prom::metric(text, "pglive_polls_total", "long-poll requests", "counter", double(s.polls_total));
    prom::metric(text, "pglive_frames_sent_total", "frames written to connections", "counter", double(s.frames_sent));
    prom::metric(text, "pglive_bytes_sent_total", "bytes written to connections", "counter", double(s.bytes_sent));
    prom::metric(text, "pglive_queue_overflows_total", "send queues that passed their bound (resync follows)", "counter",
                 double(s.queue_overflows));
    prom::metric(text, "pglive_frames_dropped_total", "frames dropped by overflowing queues", "counter",
                 double(s.frames_dropped));
    std::lock_guard<std::mutex> g(s.mutex_);
    prom::labeled(text, "pglive_disconnects_total", "connections closed, by reason", "counter", "reason", s.closes);
    return text;
}

void server::start() {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(ctx_->opt.host, ec);
    std::string where = ctx_->opt.host + ":" + std::to_string(ctx_->opt.port);
    if (ec) {
        // A host name: resolve it once.
        tcp::resolver resolver(io_);
        auto results = resolver.resolve(ctx_->opt.host, std::to_string(ctx_->opt.port), ec);
        if (ec || results.empty()) throw std::runtime_error("cannot resolve listen address " + where + ": " + ec.message());
        address = results.begin()->endpoint().address();
    }
    tcp::endpoint ep(address, ctx_->opt.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error("cannot listen on " + where + ": " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    do_accept();
}

void server::stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
}

void server::do_accept() {
    auto& on = *ctx_->shards[next_shard_++ % ctx_->shards.size()];
    acceptor_.async_accept(on.executor(), [this](boost::system::error_code ec, conn_socket socket) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
        if (ec) {
            // Out of file descriptors and the like: say so, keep accepting.
            log_warn("accept failed: " + ec.message());
        } else {
            socket.set_option(tcp::no_delay(true), ec);
            std::make_shared<http_session>(std::move(socket), ctx_)->run();
        }
        do_accept();
    });
}


}  // namespace pglive
