// ws_session.h — one WebSocket connection: reads client requests, writes hub frames in order.
#pragma once

#include <memory>
#include <vector>

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "net/http_util.h"
#include "net/outbound.h"
#include "net/ws_frame_head.h"
#include "net/write_combiner.h"

namespace pglive {

class ws_session : public outbound<ws_session>, public std::enable_shared_from_this<ws_session> {
public:
    ws_session(conn_stream&& stream, std::shared_ptr<net_context> ctx, shard& on, access who);
    ~ws_session() override;
    void run(http_request req);  // accepts the upgrade

    // outbound<ws_session>
    auto executor() { return ws_.get_executor(); }
    // Server→client text messages are framed here (ws_frame_head.h) and every queued one goes in one gathered write to the layer below
    // Beast. Beast's own writes (the upgrade answer, pings, pongs, close) go through the same
    // layer, each whole, and are never data messages, so the byte stream stays well-formed. A
    // Beast write operation per message was most of the user-space cost of a fan-out.
    template <class Queue, class Handler>
    size_t write_frames(const Queue& q, Handler&& h) {
        size_t n = 0, bytes = 0;
        heads_.clear();
        for (auto& item : q) {
            if (n == 64 || bytes > 256 * 1024) break;
            heads_.push_back(text_frame_head(item.f->size()));
            bytes += item.f->size();
            ++n;
        }
        gather_.clear();
        for (size_t i = 0; i < n; ++i) {
            gather_.push_back(boost::asio::buffer(heads_[i].bytes, heads_[i].len));
            gather_.push_back(boost::asio::buffer(*q[i].f));
        }
        boost::asio::async_write(ws_.next_layer(), gather_, std::forward<Handler>(h));
        return n;
    }
    void fail(boost::beast::error_code ec, const char* what);
    void expired();  // the token's exp passed: an error, then close 1008

private:
    void on_accept(boost::beast::error_code ec);
    void do_read();
    void on_read(boost::beast::error_code ec, size_t n);
    void handle(const std::string& text);
    void reply(const std::string& text);
    void close_session(const std::string& reason);

    boost::beast::websocket::stream<write_combiner<conn_stream>> ws_;
    boost::beast::flat_buffer buffer_;
    std::vector<ws_frame_head> heads_;                       // the write in flight's frame headers
    std::vector<boost::asio::const_buffer> gather_;  // and its buffers
    access who_;
    bool registered_ = false;  // strand-only: known to the hub
};

}  // namespace pglive
