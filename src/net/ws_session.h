// ws_session.h — one WebSocket connection: reads client requests, writes hub frames in order.
#pragma once

#include <memory>

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "net/http_util.h"
#include "net/outbound.h"
#include "net/write_combiner.h"

namespace pglive {

class ws_session : public outbound<ws_session>, public std::enable_shared_from_this<ws_session> {
public:
    ws_session(conn_stream&& stream, std::shared_ptr<net_context> ctx, access who);
    ~ws_session() override;
    void run(http_request req);  // accepts the upgrade

    // outbound<ws_session>
    auto executor() { return ws_.get_executor(); }
    // One WebSocket message per write; the socket below gathers them (write_combiner.h).
    template <class Queue, class Handler>
    size_t write_frames(const Queue& q, Handler&& h) {
        ws_.async_write(boost::asio::buffer(*q.front().first), std::forward<Handler>(h));
        return 1;
    }
    void fail(boost::beast::error_code ec, const char* what);

private:
    void on_accept(boost::beast::error_code ec);
    void do_read();
    void on_read(boost::beast::error_code ec, size_t n);
    void handle(const std::string& text);
    void reply(const std::string& text);
    void close_session(const std::string& reason);

    boost::beast::websocket::stream<write_combiner<conn_stream>> ws_;
    boost::beast::flat_buffer buffer_;
    access who_;
    bool registered_ = false;  // strand-only: known to the hub
};

}  // namespace pglive
