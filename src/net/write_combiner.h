// write_combiner.h — a stream layer under the WebSocket that gathers small writes into one.
//
// Everything a WebSocket connection sends passes through here: the data frames ws_session
// frames itself (all its queued ones per write), and Beast's own writes (the upgrade answer,
// pings, pongs, close frames), each whole and in order. Bytes written while the socket is idle
// go out at once (no added latency); bytes written while a send is in flight are copied into a
// pending buffer, the write completes at once, and they go out together when the socket is
// free. Past `high_water` pending bytes a write is held until the socket drains, so a slow
// reader still pushes back on the session's bounded queue (outbound.h). Teardown waits for
// pending bytes, so a close frame is not lost.
//
// All calls happen on the connection's strand. owner() must be set before the first write: the
// socket write in flight keeps the session (and with it these buffers) alive.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>

namespace pglive {

template <class NextLayer>
class write_combiner {
public:
    using executor_type = typename NextLayer::executor_type;
    static constexpr size_t high_water = 64 * 1024;

    template <class... Args>
    explicit write_combiner(Args&&... args) : next_(std::forward<Args>(args)...) {}

    executor_type get_executor() noexcept { return next_.get_executor(); }
    NextLayer& next_layer() noexcept { return next_; }
    const NextLayer& next_layer() const noexcept { return next_; }
    void owner(std::weak_ptr<void> o) { owner_ = std::move(o); }

    template <class MutableBufferSequence, class ReadHandler>
    auto async_read_some(const MutableBufferSequence& buffers, ReadHandler&& handler) {
        return next_.async_read_some(buffers, std::forward<ReadHandler>(handler));
    }

    template <class ConstBufferSequence, class WriteHandler>
    auto async_write_some(const ConstBufferSequence& buffers, WriteHandler&& handler) {
        return boost::asio::async_initiate<WriteHandler, void(boost::beast::error_code, size_t)>(
            [this](auto h, const ConstBufferSequence& b) { start_write(std::move(h), b); }, handler, buffers);
    }

    // Completes once every byte written so far has reached the socket (or the socket failed).
    template <class Handler>
    void async_drain(Handler&& handler) {
        if (!flushing_ && pending_.empty()) return complete(std::forward<Handler>(handler), error_, 0);
        drain_waiter_ = held(std::forward<Handler>(handler), 0);
    }

private:
    // A completion handler kept until the socket drains (handlers are move-only).
    struct waiter {
        virtual ~waiter() = default;
        virtual void complete(boost::beast::error_code ec) = 0;
    };
    template <class Handler>
    std::unique_ptr<waiter> held(Handler&& h, size_t n) {
        struct w : waiter {
            std::decay_t<Handler> h;
            size_t n;
            executor_type fallback;
            w(Handler&& h, size_t n, executor_type ex) : h(std::forward<Handler>(h)), n(n), fallback(ex) {}
            void complete(boost::beast::error_code ec) override { post_completion(std::move(h), ec, n, fallback); }
        };
        return std::make_unique<w>(std::forward<Handler>(h), n, get_executor());
    }
    template <class Handler>
    static void post_completion(Handler&& h, boost::beast::error_code ec, size_t n, const executor_type& fallback) {
        auto ex = boost::asio::get_associated_executor(h, fallback);
        boost::asio::post(ex, boost::beast::bind_front_handler(std::forward<Handler>(h), ec, n));
    }
    template <class Handler>
    void complete(Handler&& h, boost::beast::error_code ec, size_t n) {
        post_completion(std::forward<Handler>(h), ec, n, get_executor());
    }

    template <class Handler, class ConstBufferSequence>
    void start_write(Handler&& h, const ConstBufferSequence& buffers) {
        if (error_) return complete(std::forward<Handler>(h), error_, 0);
        size_t n = 0;
        for (auto b : boost::beast::buffers_range_ref(buffers)) {
            pending_.append(static_cast<const char*>(b.data()), b.size());
            n += b.size();
        }
        if (!flushing_) flush();
        if (pending_.size() <= high_water) complete(std::forward<Handler>(h), {}, n);
        else blocked_ = held(std::forward<Handler>(h), n);
    }

    void flush() {
        flushing_ = true;
        inflight_.swap(pending_);
        pending_.clear();
        boost::asio::async_write(next_, boost::asio::buffer(inflight_),
                                 [this, keep = owner_.lock()](boost::beast::error_code ec, size_t) { on_flushed(ec); });
    }

    void on_flushed(boost::beast::error_code ec) {
        flushing_ = false;
        if (ec) {
            error_ = ec;
            pending_.clear();
        }
        if (!ec && !pending_.empty()) flush();
        if (blocked_ && (ec || pending_.size() <= high_water)) std::exchange(blocked_, nullptr)->complete(ec);
        if (!flushing_) {
            // Idle again: a connection between bursts keeps no burst-sized buffers.
            if (inflight_.capacity() > 16 * 1024) std::string().swap(inflight_);
            if (pending_.capacity() > 16 * 1024) std::string().swap(pending_);
            if (drain_waiter_) std::exchange(drain_waiter_, nullptr)->complete(error_);
        }
    }

    NextLayer next_;
    std::weak_ptr<void> owner_;
    std::string pending_;   // written by Beast, not yet handed to the socket
    std::string inflight_;  // the socket write in flight reads these bytes
    bool flushing_ = false;
    boost::beast::error_code error_;  // the socket failed: every later write fails the same way
    std::unique_ptr<waiter> blocked_;
    std::unique_ptr<waiter> drain_waiter_;
};

// The WebSocket close handshake ends with a teardown of the layer below: bytes still pending
// (the close frame among them) go out first.
template <class NextLayer, class TeardownHandler>
void async_teardown(boost::beast::role_type role, write_combiner<NextLayer>& s, TeardownHandler&& handler) {
    s.async_drain([&s, role, h = std::forward<TeardownHandler>(handler)](boost::beast::error_code, size_t) mutable {
        using boost::beast::websocket::async_teardown;
        async_teardown(role, s.next_layer(), std::move(h));
    });
}

template <class NextLayer>
void teardown(boost::beast::role_type role, write_combiner<NextLayer>& s, boost::beast::error_code& ec) {
    using boost::beast::websocket::teardown;
    teardown(role, s.next_layer(), ec);
}

}  // namespace pglive
