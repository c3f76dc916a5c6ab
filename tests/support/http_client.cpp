// http_client.cpp — Beast for plain requests; a raw socket for SSE, whose body never ends.
#include "support/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace pglive::test {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace {
// Connects, lets `write` send the request, reads one response; status 0 on any failure.
template <class Write>
http_result exchange(const std::string& host, uint16_t port, std::chrono::milliseconds deadline, Write&& write) {
    http_result out;
    try {
        boost::asio::io_context ioc;
        beast::tcp_stream stream(ioc);
        stream.expires_after(deadline);
        tcp::resolver resolver(ioc);
        stream.connect(resolver.resolve(host, std::to_string(port)));
        write(stream);
        beast::flat_buffer buffer;
        http::response<http::string_body> res;
        http::read(stream, buffer, res);
        out.status = int(res.result_int());
        for (auto& f : res) out.headers[std::string(f.name_string())] = std::string(f.value());
        out.body = res.body();
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    } catch (const std::exception&) {
        out.status = 0;
    }
    return out;
}

http_result request(http::verb verb, const std::string& host, uint16_t port, const std::string& target,
                    const std::string& body, const std::map<std::string, std::string>& headers,
                    std::chrono::milliseconds deadline) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, host + ":" + std::to_string(port));
    for (auto& [k, v] : headers) req.set(k, v);
    if (verb == http::verb::post) {
        req.set(http::field::content_type, "application/json");
        req.body() = body;
        req.prepare_payload();
    }
    return exchange(host, port, deadline, [&](beast::tcp_stream& s) { http::write(s, req); });
}
}  // namespace

http_result http_get(const std::string& host, uint16_t port, const std::string& target,
                     const std::map<std::string, std::string>& headers, std::chrono::milliseconds deadline) {
    return request(http::verb::get, host, port, target, "", headers, deadline);
}

http_result http_post(const std::string& host, uint16_t port, const std::string& target, const std::string& body,
                      const std::map<std::string, std::string>& headers, std::chrono::milliseconds deadline) {
    return request(http::verb::post, host, port, target, body, headers, deadline);
}

http_result http_raw(const std::string& host, uint16_t port, const std::string& bytes,
                     std::chrono::milliseconds deadline) {
    return exchange(host, port, deadline, [&](beast::tcp_stream& s) { boost::asio::write(s, boost::asio::buffer(bytes)); });
}

sse_client::sse_client(const std::string& host, uint16_t port, const std::string& target,
                       const std::map<std::string, std::string>& headers)
    : socket_(ioc_) {
    tcp::resolver resolver(ioc_);
    boost::asio::connect(socket_, resolver.resolve(host, std::to_string(port)));
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
                      "\r\nAccept: text/event-stream\r\n";
    for (auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    req += "\r\n";
    boost::asio::write(socket_, boost::asio::buffer(req));
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (buf_.find("\r\n\r\n") == std::string::npos)
        if (!fill(until)) return;
    auto end = buf_.find("\r\n\r\n");
    std::string head = buf_.substr(0, end);
    head_ = head;
    buf_.erase(0, end + 4);
    status_ = std::stoi(head.substr(9, 3));
    if (status_ != 200) {
        auto cl = head.find("Content-Length: ");
        size_t n = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 16));
        while (buf_.size() < n)
            if (!fill(until)) break;
        error_body_ = buf_;
    }
}

bool sse_client::fill(std::chrono::steady_clock::time_point until) {
    if (!reading_) {
        reading_ = true;
        ready_ = false;
        socket_.async_read_some(boost::asio::buffer(chunk_), [this](boost::system::error_code ec, size_t n) {
            ec_ = ec;
            got_ = n;
            ready_ = true;
        });
    }
    ioc_.restart();
    while (!ready_ && std::chrono::steady_clock::now() < until) ioc_.run_one_until(until);
    if (!ready_) return false;
    reading_ = false;
    if (ec_) return false;
    buf_.append(chunk_, got_);
    return true;
}

std::optional<sse_event> sse_client::read(std::chrono::milliseconds deadline) {
    auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
        auto end = buf_.find("\n\n");
        while (end == std::string::npos) {
            if (!fill(until)) return std::nullopt;
            end = buf_.find("\n\n");
        }
        std::string record = buf_.substr(0, end);
        buf_.erase(0, end + 2);
        sse_event e;
        bool any = false;
        size_t at = 0;
        while (at <= record.size()) {
            size_t nl = record.find('\n', at);
            if (nl == std::string::npos) nl = record.size();
            std::string line = record.substr(at, nl - at);
            at = nl + 1;
            if (line.empty() || line[0] == ':') continue;
            auto colon = line.find(':');
            std::string field = line.substr(0, colon);
            std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
            if (!value.empty() && value[0] == ' ') value.erase(0, 1);
            if (field == "event") e.event = value, any = true;
            else if (field == "id") e.id = value, any = true;
            else if (field == "data") e.data += (e.data.empty() ? "" : "\n") + value, any = true;
        }
        if (any && !(e.event == "message" && e.data.empty() && e.id.empty())) return e;
    }
}

void sse_client::close() {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
}

}  // namespace pglive::test
