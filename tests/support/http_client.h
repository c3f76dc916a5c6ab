// http_client.h — blocking HTTP requests and an SSE reader for tests, each with a deadline.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace pglive::test {

struct http_result {
    int status = 0;  // 0: no answer (connection refused, timeout)
    std::map<std::string, std::string> headers;
    std::string body;
};

http_result http_get(const std::string& host, uint16_t port, const std::string& target,
                     const std::map<std::string, std::string>& headers = {},
                     std::chrono::milliseconds deadline = std::chrono::seconds(10));
http_result http_post(const std::string& host, uint16_t port, const std::string& target, const std::string& body,
                      const std::map<std::string, std::string>& headers = {},
                      std::chrono::milliseconds deadline = std::chrono::seconds(10));

// Sends `bytes` as they are (malformed requests, raw header bytes) and parses the answer;
// status 0 when the server closed without one.
http_result http_raw(const std::string& host, uint16_t port, const std::string& bytes,
                     std::chrono::milliseconds deadline = std::chrono::seconds(10));

struct sse_event {
    std::string event = "message";
    std::string id;
    std::string data;
};

// Opens /sse…; status() is the HTTP status (200 when streaming).
class sse_client {
public:
    sse_client(const std::string& host, uint16_t port, const std::string& target,
               const std::map<std::string, std::string>& headers = {});
    int status() const { return status_; }
    const std::string& head() const { return head_; }  // status line and headers, as sent
    const std::string& error_body() const { return error_body_; }
    std::optional<sse_event> read(std::chrono::milliseconds deadline);  // skips comments
    void close();

private:
    bool fill(std::chrono::steady_clock::time_point until);
    boost::asio::io_context ioc_;
    boost::asio::ip::tcp::socket socket_;
    std::string buf_;
    int status_ = 0;
    std::string error_body_;
    std::string head_;
    bool reading_ = false, ready_ = false;
    size_t got_ = 0;
    boost::system::error_code ec_;
    char chunk_[65536];
};

}  // namespace pglive::test
