// nchan.cpp — nginx + Nchan in a temporary directory, and keep-alive HTTP publishers.
#include "nchan.h"
#include "wsload.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace pglive::bench {
namespace {

constexpr const char* nginx_bin = "/usr/sbin/nginx";
constexpr const char* nchan_so = "/usr/lib/nginx/modules/ngx_nchan_module.so";

uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("no free port");
    }
    ::close(fd);
    return ntohs(a.sin_port);
}

int connect_to(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}


}  // namespace

std::string nchan_server::missing() {
    if (::access(nginx_bin, X_OK) != 0) return std::string(nginx_bin) + " not found (apt-get install nginx-light)";
    if (::access(nchan_so, R_OK) != 0) return std::string(nchan_so) + " not found (apt-get install libnginx-mod-nchan)";
    return "";
}

nchan_server::nchan_server(int workers) {
    char tmpl[] = "/tmp/pglive-nchan-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    port_ = free_port();
    // `user root`: the workers write client bodies under the 0700 temp directory. Channel
    // messages are kept 10 s, at most 16 per channel: the subscribers are all connected before
    // the first publish, so nothing is replayed from the buffer.
    std::ofstream(dir_ + "/nginx.conf") << "load_module " << nchan_so << ";\n"
        << "daemon off;\n"
        << "master_process on;\n"
        << "worker_processes " << workers << ";\n"
        << "user root;\n"
        << "pid " << dir_ << "/nginx.pid;\n"
        << "error_log " << dir_ << "/error.log warn;\n"
        << "events { worker_connections 4096; multi_accept on; }\n"
        << "http {\n"
        << "  access_log off;\n"
        << "  client_body_temp_path " << dir_ << "/client_body;\n"
        << "  keepalive_requests 10000000;\n"
        << "  client_body_buffer_size 64k;\n"
        << "  server {\n"
        << "    listen 127.0.0.1:" << port_ << " backlog=4096;\n"
        << "    location ~ ^/sub/(\\w+)$ { nchan_subscriber websocket; nchan_channel_id $1;"
           " nchan_subscriber_first_message newest; }\n"
        << "    location ~ ^/pub/(\\w+)$ { nchan_publisher; nchan_channel_id $1;"
           " nchan_message_buffer_length 16; nchan_message_timeout 10s; }\n"
        << "  }\n"
        << "}\n";
    proc_ = std::make_unique<test::process>(std::vector<std::string>{
        nginx_bin, "-e", dir_ + "/error.log", "-p", dir_ + "/", "-c", dir_ + "/nginx.conf"});
    // Ready when the port answers; nginx prints nothing on success.
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
        if (int fd = connect_to(port_); fd >= 0) {
            ::close(fd);
            break;
        }
        if (proc_->wait_exit(std::chrono::milliseconds(20)) || std::chrono::steady_clock::now() > until) {
            std::ifstream log(dir_ + "/error.log");
            std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
            throw std::runtime_error("nginx did not start: " + proc_->output() + text);
        }
    }
}

nchan_server::~nchan_server() {
    proc_->signal(SIGTERM);
    if (!proc_->wait_exit(std::chrono::seconds(10))) {
        proc_->signal(SIGKILL);
        proc_->wait_exit(std::chrono::seconds(5));
    }
    proc_.reset();
    std::system(("rm -rf '" + dir_ + "'").c_str());
}

double nchan_server::cpu_s() const {
    pid_t master = proc_->pid();
    double t = proc_cpu_s(master);
    std::ifstream kids("/proc/" + std::to_string(master) + "/task/" + std::to_string(master) + "/children");
    for (pid_t k; kids >> k;) t += proc_cpu_s(k);
    return t;
}

int64_t publish_for(uint16_t port, const std::string& channel, int threads, double secs,
                    const std::function<std::string(int64_t)>& body) {
    std::atomic<int64_t> seq{0}, ok{0};
    auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(secs);
    std::vector<std::thread> ts;
    for (int i = 0; i < threads; ++i)
        ts.emplace_back([&] {
            int fd = -1;
            std::string in;
            char buf[8192];
            while (std::chrono::steady_clock::now() < until) {
                if (fd < 0 && (fd = connect_to(port)) < 0) return;
                std::string b = body(seq.fetch_add(1));
                std::string req = "POST /pub/" + channel + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  "Content-Type: application/json\r\nContent-Length: " +
                                  std::to_string(b.size()) + "\r\n\r\n" + b;
                bool sent = ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == ssize_t(req.size());
                // The response: status line and headers, then Content-Length bytes of body.
                in.clear();
                size_t hend = std::string::npos, need = 0;
                while (sent) {
                    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
                    if (n <= 0) {
                        sent = false;
                        break;
                    }
                    in.append(buf, size_t(n));
                    if (hend == std::string::npos && (hend = in.find("\r\n\r\n")) != std::string::npos) {
                        auto cl = in.find("Content-Length:");
                        if (cl == std::string::npos) cl = in.find("content-length:");
                        need = hend + 4 + (cl != std::string::npos && cl < hend ? std::atol(in.c_str() + cl + 15) : 0);
                    }
                    if (hend != std::string::npos && in.size() >= need) break;
                }
                if (!sent) {  // closed: reconnect
                    ::close(fd);
                    fd = -1;
                    continue;
                }
                if (in.rfind("HTTP/1.1 2", 0) == 0) ok.fetch_add(1);
                if (in.find("Connection: close") != std::string::npos) {
                    ::close(fd);
                    fd = -1;
                }
            }
            if (fd >= 0) ::close(fd);
        });
    for (auto& t : ts) t.join();
    return ok.load();
}

}  // namespace pglive::bench
