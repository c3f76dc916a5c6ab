// server.cpp — the listener: accepts connections, each on its own strand, and hands them to http_session.
#include "net/server.h"

#include <boost/asio/strand.hpp>

#include "core/log.h"
#include "net/http_session.h"

namespace pglive {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

server::server(asio::io_context& io, hub_runner& runner, net_options opt, net_callbacks cb)
    : io_(io), ctx_(std::make_shared<net_context>()), acceptor_(asio::make_strand(io)),
      metrics_acceptor_(acceptor_.get_executor()) {  // one strand: next_shard_ is shared
    ctx_->opt = std::move(opt);
    ctx_->cb = std::move(cb);
    ctx_->runner = &runner;
    ctx_->timings = ctx_->cb.timings;
    for (int i = 0; i < 4; ++i) ctx_->shards.push_back(std::make_shared<shard>(io));
}

server::~server() = default;

namespace {

// Opens, binds and listens; returns the port. Throws std::runtime_error naming the address.
uint16_t listen_on(asio::io_context& io, tcp::acceptor& acceptor, const std::string& host, uint16_t port) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(host, ec);
    std::string where = host + ":" + std::to_string(port);
    if (ec) {
        // A host name: resolve it once.
        tcp::resolver resolver(io);
        auto results = resolver.resolve(host, std::to_string(port), ec);
        if (ec || results.empty()) throw std::runtime_error("cannot resolve listen address " + where + ": " + ec.message());
        address = results.begin()->endpoint().address();
    }
    tcp::endpoint ep(address, port);
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error("cannot listen on " + where + ": " + ec.message());
    return acceptor.local_endpoint().port();
}

}  // namespace

void server::start() {
    port_ = listen_on(io_, acceptor_, ctx_->opt.host, ctx_->opt.port);
    if (ctx_->opt.metrics_port >= 0) {
        metrics_port_ = listen_on(io_, metrics_acceptor_, ctx_->opt.metrics_host, uint16_t(ctx_->opt.metrics_port));
        do_accept(metrics_acceptor_, true);
    }
    do_accept(acceptor_, false);
}

void server::stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    metrics_acceptor_.close(ignored);
}

void server::do_accept(tcp::acceptor& acceptor, bool metrics_only) {
    auto& on = *ctx_->shards[next_shard_++ % ctx_->shards.size()];
    acceptor.async_accept(on.executor(), [this, &on, &acceptor, metrics_only](boost::system::error_code ec, conn_socket socket) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
        if (ec) {
            // Out of file descriptors and the like: say so, keep accepting.
            log_warn("accept failed: " + ec.message());
        } else {
            socket.set_option(tcp::no_delay(true), ec);
            std::make_shared<http_session>(std::move(socket), ctx_, on, metrics_only)->run();
        }
        do_accept(acceptor, metrics_only);
    });
}

uint64_t server::frames_written() const { return ctx_->stats.frames_sent.load(std::memory_order_relaxed); }

bool server::under_pressure() const {
    int64_t deep = ctx_->stats.deep_queues.load(std::memory_order_relaxed);
    int64_t open = ctx_->stats.ws_open.load(std::memory_order_relaxed) + ctx_->stats.sse_open.load(std::memory_order_relaxed);
    return deep >= 2 && deep * 4 >= open;
}

}  // namespace pglive
