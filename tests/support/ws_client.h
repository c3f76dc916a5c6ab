// ws_client.h — a blocking WebSocket client for tests and benchmarks: reads wait with a deadline.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/rate_policy.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "core/change.h"

namespace pglive::test {

class ws_client {
public:
    // Connects and upgrades; throws boost::system::system_error (e.g. 401/403 refusals).
    // recv_buffer > 0 shrinks the socket's receive buffer, so a client that stops reading
    // stalls the server quickly (tests of the send-queue bound).
    ws_client(const std::string& host, uint16_t port, const std::string& target = "/ws",
              const std::map<std::string, std::string>& headers = {}, int recv_buffer = 0);
    ~ws_client();

    void send(const json& message) { send_text(message.dump()); }
    void send_text(const std::string& text);
    // The next message, or nullopt when none came before the deadline (or the socket closed).
    std::optional<json> read(std::chrono::milliseconds deadline);
    std::optional<std::string> read_text(std::chrono::milliseconds deadline);
    // Reads until a message satisfies pred; nullopt at the deadline.
    template <class Pred>
    std::optional<json> read_until(Pred pred, std::chrono::milliseconds deadline) {
        auto until = std::chrono::steady_clock::now() + deadline;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            auto m = read(left);
            if (m && pred(*m)) return m;
            if (!m && closed_) return std::nullopt;
        }
    }
    // Reads at most this many bytes a second from now on (a client on a slow link).
    void limit_read_rate(size_t bytes_per_second) {
        boost::beast::get_lowest_layer(ws_).rate_policy().read_limit(bytes_per_second);
    }
    bool closed() const { return closed_; }
    // The close code the server sent (e.g. 1009), once closed.
    int close_code() const;
    void close();

private:
    boost::asio::io_context ioc_;
    using stream_type = boost::beast::basic_stream<boost::asio::ip::tcp, boost::asio::any_io_executor,
                                                   boost::beast::simple_rate_policy>;
    boost::beast::websocket::stream<stream_type> ws_;
    boost::beast::flat_buffer buffer_;
    bool reading_ = false;
    bool ready_ = false;
    bool closed_ = false;
    boost::beast::error_code read_ec_;
};

}  // namespace pglive::test
