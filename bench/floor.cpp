// floor.cpp — §4's kernel floor: one small write to each of n loopback TCP connections, read by one epoll thread.
//
// What a broadcast costs below any server on this machine: the sending side's write() per
// connection (on loopback it also runs the receiving TCP stack) and the reader's epoll_wait +
// read() per connection, on the same cores, as pglive's I/O threads and the load client are.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common.h"

namespace pglive::bench {

namespace {

struct fd_closer {
    std::vector<int> fds;
    ~fd_closer() {
        for (int fd : fds) ::close(fd);
    }
};

}  // namespace

floor_result loopback_floor(int n, int writers, int rounds, size_t bytes) {
    fd_closer all;
    int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ls < 0) throw std::runtime_error("floor: socket failed");
    all.fds.push_back(ls);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(ls, 4096) != 0 ||
        ::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        throw std::runtime_error("floor: listen failed");
    int one = 1;
    std::vector<int> senders, readers;
    for (int i = 0; i < n; ++i) {
        int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c < 0) break;  // out of descriptors: measure what we have
        all.fds.push_back(c);
        if (::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) break;
        int s = ::accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
        if (s < 0) break;
        all.fds.push_back(s);
        ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ::fcntl(c, F_SETFL, O_NONBLOCK);
        senders.push_back(s);
        readers.push_back(c);
    }
    n = int(senders.size());
    floor_result r;
    r.n = n;
    if (n == 0) return r;
    int ep = ::epoll_create1(EPOLL_CLOEXEC);
    all.fds.push_back(ep);
    for (int i = 0; i < n; ++i) {
        epoll_event e{};
        e.events = EPOLLIN;
        e.data.u32 = uint32_t(i);
        ::epoll_ctl(ep, EPOLL_CTL_ADD, readers[size_t(i)], &e);
    }
    std::vector<char> msg(bytes, 'x');
    std::vector<double> p50s, p99s;
    for (int round = 0; round < rounds; ++round) {
        std::vector<int64_t> got(size_t(n), 0);
        std::atomic<int> left{n};
        int64_t t0 = now_us();
        std::thread reader([&] {
            epoll_event ev[512];
            char buf[4096];
            auto deadline = t0 + 10'000'000;
            while (left > 0 && now_us() < deadline) {
                int k = ::epoll_wait(ep, ev, 512, 100);
                for (int j = 0; j < k; ++j) {
                    size_t i = ev[j].data.u32;
                    if (::read(readers[i], buf, sizeof buf) > 0 && got[i] == 0) {
                        got[i] = now_us();
                        --left;
                    }
                }
            }
        });
        std::vector<std::thread> ws;
        for (int t = 0; t < writers; ++t)
            ws.emplace_back([&, t] {
                for (int i = t; i < n; i += writers) [[maybe_unused]] auto w = ::write(senders[size_t(i)], msg.data(), msg.size());
            });
        for (auto& w : ws) w.join();
        reader.join();
        std::vector<double> d;
        for (int64_t g : got)
            if (g) d.push_back(double(g - t0) / 1000.0);
        auto p = percentiles(d);
        p50s.push_back(p.p50);
        p99s.push_back(p.p99);
    }
    std::sort(p50s.begin(), p50s.end());
    std::sort(p99s.begin(), p99s.end());
    r.p50_ms = p50s[p50s.size() / 2];
    r.p99_ms = p99s[p99s.size() / 2];
    return r;
}

}  // namespace pglive::bench
