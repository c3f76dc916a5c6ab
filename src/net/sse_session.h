// sse_session.h — one Server-Sent Events stream: a hub client whose frames are whole SSE records.
#pragma once

#include <memory>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>

#include "net/http_util.h"
#include "net/outbound.h"

namespace pglive {

class sse_session : public outbound<sse_session>, public std::enable_shared_from_this<sse_session> {
public:
    sse_session(conn_stream&& stream, std::shared_ptr<net_context> ctx, shard& on, access who);
    ~sse_session() override;
    // Checks the topic with the hub, then answers 200 and streams, or answers 4xx JSON.
    void run(http_request req, subscribe_request sub);
    void drain() override;  // on our strand: holds the hub's frames until the stream has started

    wire_format format() const override { return wire_format::sse; }
    auto executor() { return stream_.get_executor(); }
    // SSE records are plain bytes on the stream: every queued one goes in one gathered write.
    template <class Queue, class Handler>
    size_t write_frames(const Queue& q, Handler&& h) {
        gather_.clear();
        for (auto& item : q) {
            if (gather_.size() == 64) break;
            gather_.push_back(boost::asio::buffer(*item.f));
        }
        stream_.expires_after(std::chrono::seconds(ctx_->opt.ping_interval_s + ctx_->opt.pong_timeout_s));
        boost::asio::async_write(stream_, gather_, std::forward<Handler>(h));
        return gather_.size();
    }
    void fail(boost::beast::error_code ec, const char* what);
    void expired();  // the token's exp passed: an error event, then the stream ends

private:
    void start_stream();
    void refuse(http::status status, const std::string& code, const std::string& message);
    void watch_peer();
    void schedule_ping();

    conn_stream stream_;
    http_request req_;
    subscribe_request sub_;
    access who_;
    boost::asio::steady_timer ping_timer_;
    std::vector<boost::asio::const_buffer> gather_;  // the write in flight's buffers
    char probe_[64];
    bool registered_ = false;
    bool streaming_ = false;  // strand-only: the 200 head is queued
};

}  // namespace pglive
