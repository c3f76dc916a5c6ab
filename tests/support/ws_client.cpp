// ws_client.cpp — one io_context per client; a pending read survives a deadline and is resumed.
#include "support/ws_client.h"

#include <boost/asio/connect.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>

namespace pglive::test {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = boost::asio::ip::tcp;

ws_client::ws_client(const std::string& host, uint16_t port, const std::string& target,
                     const std::map<std::string, std::string>& headers, int recv_buffer)
    : ws_(ioc_) {
    tcp::resolver resolver(ioc_);
    auto endpoints = resolver.resolve(host, std::to_string(port));
    auto& sock = beast::get_lowest_layer(ws_).socket();
    if (recv_buffer > 0) {
        // Set before connect: the window is negotiated at the handshake.
        sock.open(endpoints.begin()->endpoint().protocol());
        sock.set_option(boost::asio::socket_base::receive_buffer_size(recv_buffer));
        sock.connect(*endpoints.begin());
    } else {
        beast::get_lowest_layer(ws_).connect(endpoints);
    }
    ws_.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
        for (auto& [k, v] : headers) req.set(k, v);
    }));
    ws_.read_message_max(256 << 20);
    ws_.handshake(host + ":" + std::to_string(port), target);
}

ws_client::~ws_client() {
    if (!closed_) {
        beast::error_code ignored;
        beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    }
}

void ws_client::send_text(const std::string& text) {
    ws_.text(true);
    ws_.write(boost::asio::buffer(text));
}

std::optional<std::string> ws_client::read_text(std::chrono::milliseconds deadline) {
    if (closed_) return std::nullopt;
    if (!reading_) {
        reading_ = true;
        ready_ = false;
        ws_.async_read(buffer_, [this](beast::error_code ec, size_t) {
            read_ec_ = ec;
            ready_ = true;
        });
    }
    ioc_.restart();
    auto until = std::chrono::steady_clock::now() + deadline;
    while (!ready_ && std::chrono::steady_clock::now() < until) ioc_.run_one_until(until);
    if (!ready_) return std::nullopt;
    reading_ = false;
    if (read_ec_) {
        closed_ = true;
        return std::nullopt;
    }
    std::string text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    return text;
}

std::optional<json> ws_client::read(std::chrono::milliseconds deadline) {
    auto text = read_text(deadline);
    if (!text) return std::nullopt;
    return json::parse(*text);
}

int ws_client::close_code() const { return int(ws_.reason().code); }

void ws_client::close() {
    if (closed_) return;
    beast::error_code ignored;
    ws_.close(websocket::close_code::normal, ignored);
    closed_ = true;
}

}  // namespace pglive::test
