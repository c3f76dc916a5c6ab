// floor.cpp — the floors under §2 and §4: what the kernel and the database cost here without pglive.
//
// §4, a broadcast: the sending side's write() per connection (on loopback it also runs the
// receiving TCP stack) and the reader's epoll_wait + read() per connection, on the same cores,
// as pglive's I/O threads and the load client are.
//
// §2, commit → client: the same paced writers as the latency runs commit into a table without a
// trigger, and each hands its commit to a relay thread the moment COMMIT returns (a pipe: one
// wake-up, the least any server needs to learn of a commit), which writes a frame to each of n
// loopback TCP connections, read by one epoll thread. Everything a server must do on this
// machine and nothing it chooses to: no capture, no sequencer, no JSON.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <pqxx/pqxx>
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

// n connected loopback TCP pairs: senders[i] → readers[i] (readers non-blocking, senders NODELAY).
// Fewer when descriptors run out.
void loopback_pairs(int n, fd_closer& all, std::vector<int>& senders, std::vector<int>& readers) {
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
    for (int i = 0; i < n; ++i) {
        int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c < 0) break;
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
}

// An epoll set of the readers, each registered with its index.
int epoll_of(const std::vector<int>& readers, fd_closer& all) {
    int ep = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) throw std::runtime_error("floor: epoll_create1 failed");
    all.fds.push_back(ep);
    for (size_t i = 0; i < readers.size(); ++i) {
        epoll_event e{};
        e.events = EPOLLIN;
        e.data.u32 = uint32_t(i);
        ::epoll_ctl(ep, EPOLL_CTL_ADD, readers[i], &e);
    }
    return ep;
}

}  // namespace

floor_result loopback_floor(int n, int writers, int rounds, size_t bytes) {
    fd_closer all;
    std::vector<int> senders, readers;
    loopback_pairs(n, all, senders, readers);
    n = int(senders.size());
    floor_result r;
    r.n = n;
    if (n == 0) return r;
    int ep = epoll_of(readers, all);
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


pct commit_floor(const std::string& conninfo, int n, double rate, double secs, size_t bytes) {
    fd_closer all;
    std::vector<int> senders, readers;
    loopback_pairs(n, all, senders, readers);
    n = int(senders.size());
    if (n == 0) return {};
    bytes = std::max(bytes, sizeof(int64_t));
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) throw std::runtime_error("floor: pipe failed");
    all.fds.push_back(pipefd[0]);
    all.fds.push_back(pipefd[1]);
    int ep = epoll_of(readers, all);
    std::atomic<bool> done{false};
    std::atomic<int64_t> expected{-1};  // frames the reader waits for, once the writers have stopped
    std::vector<double> lat;
    int64_t received = 0;
    // The reader: fixed-size frames, each starting with the commit time (µs) it carries.
    std::thread reader([&] {
        std::vector<std::string> part(static_cast<size_t>(n));
        epoll_event ev[256];
        std::vector<char> buf(64 * 1024);
        int64_t quiet_until = 0;
        for (;;) {
            int64_t want = expected.load();
            if (want >= 0 && received >= want) break;
            if (want >= 0 && quiet_until == 0) quiet_until = now_us() + 5'000'000;
            if (quiet_until && now_us() > quiet_until) break;  // frames lost: the figure says so (count)
            int k = ::epoll_wait(ep, ev, 256, 50);
            for (int j = 0; j < k; ++j) {
                size_t i = ev[j].data.u32;
                for (;;) {
                    ssize_t r = ::read(readers[i], buf.data(), buf.size());
                    if (r <= 0) break;
                    int64_t at = now_us();
                    auto& p = part[i];
                    p.append(buf.data(), size_t(r));
                    size_t off = 0;
                    for (; p.size() - off >= bytes; off += bytes) {
                        int64_t t;
                        std::memcpy(&t, p.data() + off, sizeof t);
                        lat.push_back(double(at - t) / 1000.0);
                        ++received;
                    }
                    p.erase(0, off);
                }
            }
        }
    });
    // The relay: one pipe message (a commit time) → one frame to every connection.
    std::thread relay([&] {
        std::vector<char> frame(bytes, 'x');
        pollfd pf{pipefd[0], POLLIN, 0};
        int64_t msgs[64];
        for (;;) {
            if (::poll(&pf, 1, 50) <= 0) {
                if (done) break;
                continue;
            }
            ssize_t r = ::read(pipefd[0], msgs, sizeof msgs);
            if (r <= 0) break;
            for (size_t m = 0; m < size_t(r) / sizeof(int64_t); ++m) {
                std::memcpy(frame.data(), &msgs[m], sizeof(int64_t));
                for (int s : senders) [[maybe_unused]] auto w = ::write(s, frame.data(), frame.size());
            }
        }
    });
    // The writers: as run_writers paces them (4 of them), then the commit time into the pipe.
    const int clients = 4;
    std::atomic<int64_t> commits{0};
    std::vector<std::thread> ws;
    auto start = clk::now();
    for (int c = 0; c < clients; ++c)
        ws.emplace_back([&] {
            pqxx::connection conn(conninfo);
            conn.prepare("w", "INSERT INTO b_none(v) VALUES ($1)");
            std::string v = row_text(160);
            int64_t k = 0;
            auto t0 = clk::now();
            while (std::chrono::duration<double>(clk::now() - start).count() < secs) {
                auto due = t0 + std::chrono::microseconds(int64_t(double(k) * 1e6 * clients / rate));
                while (clk::now() < due) std::this_thread::sleep_until(due);
                pqxx::work w(conn);
                w.exec_prepared("w", v);
                w.commit();
                int64_t t = now_us();
                [[maybe_unused]] auto r = ::write(pipefd[1], &t, sizeof t);  // atomic: below PIPE_BUF
                ++k;
                commits.fetch_add(1);
            }
        });
    for (auto& w : ws) w.join();
    expected = commits.load() * n;
    done = true;
    relay.join();
    reader.join();
    auto p = percentiles(lat);
    if (received < commits.load() * n) p.max = -1;  // incomplete: no figure to trust
    return p;
}

}  // namespace pglive::bench
