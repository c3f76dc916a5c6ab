// http_session.h — one HTTP connection: reads, routes and responds, or hands its socket to WebSocket/SSE.
#pragma once

#include <memory>
#include <optional>

#include <boost/beast/core.hpp>

#include "net/http_util.h"

namespace pglive {

class http_session : public std::enable_shared_from_this<http_session> {
public:
    // metrics_only: a connection to the metrics listener (GET /metrics and /healthz, no token).
    // `on`: the shard whose strand `socket` runs on; the WebSocket or SSE session it becomes stays there.
    http_session(conn_socket&& socket, std::shared_ptr<net_context> ctx, shard& on, bool metrics_only = false);
    void run();

private:
    void do_read();
    void on_read(boost::beast::error_code ec, size_t n);
    void route();
    void send(http_response res);
    // Answers later, from any thread: hops back to this connection's strand.
    std::function<void(http_response)> later();
    void serve_file(const std::string& path);
    void serve_metrics();

    conn_stream stream_;
    boost::beast::flat_buffer buffer_;
    std::shared_ptr<net_context> ctx_;
    shard& shard_;
    std::optional<http::request_parser<http::string_body>> parser_;
    http_request req_;
    bool metrics_only_ = false;
    // The Origin this request's answer is readable by (CORS): an allowed cross-origin caller of
    // the API, /poll or /healthz; "" for the rest. Set by route(), applied by send().
    std::string cors_origin_;
};

}  // namespace pglive
