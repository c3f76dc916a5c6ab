// wsload.cpp — the epoll WebSocket load client (see wsload.h).
#include "wsload.h"

#include <arpa/inet.h>
#include <cstdlib>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <future>
#include <iostream>
#include <sstream>
#include <string_view>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace pglive::bench {

double proc_cpu_s(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto rp = all.rfind(')');  // the command name may hold spaces and parentheses
    if (rp == std::string::npos) return 0;
    std::istringstream in(all.substr(rp + 2));
    std::string field;
    double t = 0;
    for (int i = 3; i <= 15 && in >> field; ++i)  // fields 14, 15 (1-based): utime, stime
        if (i >= 14) t += std::atof(field.c_str());
    return t / double(sysconf(_SC_CLK_TCK));
}

int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

int64_t parse_ts_us(const char* s, size_t n) {
    if (n < 20) return -1;
    struct tm t {};
    int y, mo, d, h, mi, se;
    if (std::sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &se) != 6) return -1;
    t.tm_year = y - 1900, t.tm_mon = mo - 1, t.tm_mday = d, t.tm_hour = h, t.tm_min = mi, t.tm_sec = se;
    int64_t us = int64_t(timegm(&t)) * 1000000;
    size_t i = 19;
    if (i < n && s[i] == '.') {
        int64_t frac = 0, scale = 1000000;
        for (++i; i < n && s[i] >= '0' && s[i] <= '9'; ++i) {
            scale /= 10;
            frac = frac * 10 + (s[i] - '0');
        }
        us += scale > 0 ? frac * scale : frac;  // more than 6 digits is not produced
    }
    return us;
}

std::string format_ts_us(int64_t us) {
    time_t secs = time_t(us / 1000000);
    struct tm t {};
    gmtime_r(&secs, &t);
    char b[64];
    std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                  t.tm_hour, t.tm_min, t.tm_sec, int(us % 1000000));
    return b;
}

namespace {

constexpr size_t read_buffer_bytes = 64 * 1024;
// Kept per message: its first and last 160 bytes. pglive writes keys in sorted order ("ts" and
// "type" last); the protocol's examples and the Nchan bench message put "type" and "ts" first.
constexpr size_t edge_bytes = 160;
constexpr int conns_per_source = 25000;

std::string base64(const unsigned char* p, size_t n) {
    std::string out(4 * ((n + 2) / 3) + 1, '\0');
    int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p, int(n));
    out.resize(size_t(len));
    return out;
}

std::string accept_key(const std::string& key) {
    std::string s = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char d[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
    return base64(d, sizeof d);
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

enum class kind { patch, snapshot, message, error, other };

// The value of the message's "type": looked for at the end (pglive's sorted keys put it last),
// then at the start.
kind classify(std::string_view head, std::string_view tail) {
    constexpr std::string_view key = R"("type":")";
    std::string_view t;
    if (auto p = tail.rfind(key); p != std::string_view::npos) t = tail.substr(p + key.size());
    else if (auto q = head.find(key); q != std::string_view::npos) t = head.substr(q + key.size());
    else return kind::other;
    if (starts_with(t, "patch\"")) return kind::patch;
    if (starts_with(t, "message\"")) return kind::message;
    if (starts_with(t, "snapshot\"")) return kind::snapshot;
    if (starts_with(t, "error\"")) return kind::error;
    return kind::other;
}

}  // namespace

struct load::conn {
    int fd = -1;
    enum : uint8_t { connecting, handshaking, open, dead } state = connecting;
    bool reported = false, subscribed = false, stall = false, in_payload = false;
    uint8_t opcode = 0, hdr_have = 0, ctl_len = 0, ctl_want = 0, head_len = 0, tail_len = 0;
    uint64_t remaining = 0, msg_bytes = 0;
    unsigned char hdr[14];
    char ctl[125];              // a control frame's payload
    char head[edge_bytes];      // a data message's first bytes
    char tail[edge_bytes];      // and its last
    std::string out;  // bytes the socket did not take yet (rare: only small frames are sent)
    std::string hs;   // the upgrade response until its end; the expected accept key before
};

load::load(uint16_t port, peer kind, std::string path)
    : port_(port), kind_(kind), path_(std::move(path)), rbuf_(read_buffer_bytes) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    epoll_ctl(ep_, EPOLL_CTL_ADD, wake_, &ev);
    rng_ ^= uint64_t(now_us()) * 0x2545F4914F6CDD1Dull;
    thread_ = std::thread([this] { run(); });
}

load::~load() {
    sync([this] {
        for (auto& [why, n] : st.fail_reasons) std::cerr << "bench: " << n << " connection(s) failed: " << why << "\n";
        for (conn* c : conns_) {
            if (c->fd >= 0) {
                linger l{1, 0};
                ::setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
                ::close(c->fd);
                c->fd = -1;
            }
            delete c;
        }
        conns_.clear();
    });
    stop_ = true;
    post([] {});
    thread_.join();
    ::close(wake_);
    ::close(ep_);
}

void load::post(std::function<void()> f) {
    {
        std::lock_guard<std::mutex> g(mutex_);
        tasks_.push_back(std::move(f));
    }
    uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(wake_, &one, sizeof one);
}

void load::sync(const std::function<void()>& f) {
    std::promise<void> p;
    post([&] {
        f();
        p.set_value();
    });
    p.get_future().wait();
}

int64_t load::open(int n, const std::string& topic, bool stall, std::chrono::milliseconds deadline, int window) {
    int target = 0;
    sync([&] {
        topic_ = topic;
        stall_ = stall;
        window_ = std::max(1, window);
        // The subscribe message, as in docs/PROTOCOL.md §4.
        sub_msg_ = topic.empty() ? "" : R"({"op":"subscribe","ref":"1","topic":")" + topic + "\"}";
        want_ += n;
        target = want_;
        start_next();
    });
    auto until = std::chrono::steady_clock::now() + deadline;
    while (done_.load() < target && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    int64_t ready = 0;
    sync([&] {
        ready = st.ready;
        want_ = started_;  // stop opening more after the deadline
    });
    return ready;
}

void load::start_next() {
    if (starting_) return;  // report() of a connection that failed at once calls back in here
    starting_ = true;
    while (started_ < want_ && inflight_ < window_) start_conn();
    starting_ = false;
}

void load::start_conn() {
    int idx = started_++;
    ++inflight_;
    auto* c = new conn;
    conns_.push_back(c);
    c->stall = stall_;
    c->fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        return fail(c, std::string("socket(): ") + std::strerror(errno));
    }
    int one = 1;
    ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (c->stall) {
        int small = 4096;  // a stalled client fills the server's queue fast
        ::setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    // Source 127.0.0.(1 + idx / 25000); the port is picked at connect() per 4-tuple.
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000001u + uint32_t(idx / conns_per_source));
    ::setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (::bind(c->fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0)
        return fail(c, std::string("bind: ") + std::strerror(errno));
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(port_);
    dst.sin_addr.s_addr = htonl(0x7f000001u);
    int r = ::connect(c->fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
    if (r != 0 && errno != EINPROGRESS) {
        return fail(c, std::string("connect(): ") + std::strerror(errno));
    }
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.ptr = c;
    epoll_ctl(ep_, EPOLL_CTL_ADD, c->fd, &ev);
}

void load::fail(conn* c, const std::string& why) {
    if (c->reported) return;
    ++st.fail_reasons[why];
    report(c, false);
}

void load::report(conn* c, bool ok) {
    if (c->reported) return;
    c->reported = true;
    --inflight_;
    if (ok) ++st.ready;
    else {
        ++st.failed;
        drop(c);
    }
    done_.fetch_add(1);
    start_next();
}

void load::drop(conn* c) {
    if (c->fd >= 0) {
        ::close(c->fd);  // also leaves the epoll set
        c->fd = -1;
    }
    c->state = conn::dead;
    c->out.clear();
    c->out.shrink_to_fit();
    c->hs.clear();
    c->hs.shrink_to_fit();
}

void load::set_events(conn* c, uint32_t ev) {
    epoll_event e{};
    e.events = ev;
    e.data.ptr = c;
    epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &e);
}

void load::run() {
    std::vector<epoll_event> evs(1024);
    while (!stop_.load()) {
        int n = epoll_wait(ep_, evs.data(), int(evs.size()), 100);
        if (int64_t c = coalesce_us_.load(std::memory_order_relaxed); c > 0 && n > 0 && n < int(evs.size()))
            std::this_thread::sleep_for(std::chrono::microseconds(c));  // the events stay valid: level-triggered
        for (int i = 0; i < n; ++i) {
            auto* c = static_cast<conn*>(evs[i].data.ptr);
            if (c) {
                on_event(c, evs[i].events);
                continue;
            }
            uint64_t v;
            [[maybe_unused]] auto r = ::read(wake_, &v, sizeof v);
            std::vector<std::function<void()>> tasks;
            {
                std::lock_guard<std::mutex> g(mutex_);
                tasks.swap(tasks_);
            }
            for (auto& t : tasks) t();
            // A task may have deleted connections whose events are still in evs: stop here.
            if (!tasks.empty()) break;
        }
    }
}

void load::on_event(conn* c, uint32_t ev) {
    if (c->fd < 0) return;
    if (c->state == conn::connecting) {
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
        return;
    }
    if ((ev & EPOLLOUT) && !c->out.empty()) flush(c);
    if (c->fd >= 0 && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) on_readable(c);
}

void load::on_connected(conn* c) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
        return fail(c, std::string("connect: ") + std::strerror(err));
    }
    c->state = conn::handshaking;
    set_events(c, EPOLLIN);
    unsigned char nonce[16];
    for (int i = 0; i < 16; i += 8) {
        rng_ ^= rng_ << 13, rng_ ^= rng_ >> 7, rng_ ^= rng_ << 17;
        std::memcpy(nonce + i, &rng_, 8);
    }
    std::string key = base64(nonce, sizeof nonce);
    c->hs = accept_key(key);
    std::string req = "GET " + path_ + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                      "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    send(c, req.data(), req.size());
}

void load::send(conn* c, const char* p, size_t n) {
    if (c->fd < 0) return;
    if (c->out.empty()) {
        ssize_t w = ::send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            if (!c->reported) return fail(c, std::string("send: ") + std::strerror(errno));
            ++st.closed;
            return drop(c);
        }
        size_t done = w > 0 ? size_t(w) : 0;
        if (done == n) return;
        p += done, n -= done;
        c->out.assign(p, n);
        set_events(c, c->stall && c->subscribed ? EPOLLOUT : EPOLLIN | EPOLLOUT);
        return;
    }
    c->out.append(p, n);
}

void load::flush(conn* c) {
    ssize_t w = ::send(c->fd, c->out.data(), c->out.size(), MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        if (!c->reported) return fail(c, std::string("send: ") + std::strerror(errno));
        ++st.closed;
        return drop(c);
    }
    if (w > 0) c->out.erase(0, size_t(w));
    if (c->out.empty()) set_events(c, c->stall && c->subscribed ? 0u : uint32_t(EPOLLIN));
}

// A masked client frame (RFC 6455 §5.3): FIN, opcode, mask bit, length, key, payload ^ key.
void load::send_frame(conn* c, int opcode, const char* p, size_t n) {
    char f[14 + 256];
    std::string big;
    char* o = f;
    if (n + 14 > sizeof f) {
        big.resize(n + 14);
        o = big.data();
    }
    size_t h = 0;
    o[h++] = char(0x80 | opcode);
    if (n < 126) o[h++] = char(0x80 | n);
    else if (n < 65536) {
        o[h++] = char(0x80 | 126);
        o[h++] = char(n >> 8), o[h++] = char(n);
    } else {
        o[h++] = char(0x80 | 127);
        for (int i = 7; i >= 0; --i) o[h++] = char(uint64_t(n) >> (8 * i));
    }
    rng_ ^= rng_ << 13, rng_ ^= rng_ >> 7, rng_ ^= rng_ << 17;
    unsigned char key[4];
    std::memcpy(key, &rng_, 4);
    std::memcpy(o + h, key, 4);
    h += 4;
    for (size_t i = 0; i < n; ++i) o[h + i] = char(p[i] ^ key[i & 3]);
    send(c, o, h + n);
}

void load::on_readable(conn* c) {
    ssize_t n = ::recv(c->fd, rbuf_.data(), rbuf_.size(), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {  // EOF or reset
        if (!c->reported) return fail(c, n == 0 ? std::string("closed by the server before ready") : std::string("recv: ") + std::strerror(errno));
        ++st.closed;
        return drop(c);
    }
    int64_t rx = now_us();
    if (c->state == conn::handshaking) on_handshake(c, rbuf_.data(), size_t(n), rx);
    else on_frames(c, rbuf_.data(), size_t(n), rx);
}

void load::on_handshake(conn* c, const char* p, size_t n, int64_t rx) {
    // c->hs starts as the expected accept key followed by '\n'; the response is appended.
    if (c->hs.find('\n') == std::string::npos) c->hs += '\n';
    size_t base = c->hs.find('\n') + 1;
    c->hs.append(p, n);
    size_t end = c->hs.find("\r\n\r\n", base);
    if (end == std::string::npos) {
        if (c->hs.size() - base > 8192) fail(c, "upgrade response over 8 KiB");
        return;
    }
    std::string expect = c->hs.substr(0, base - 1);
    std::string head = c->hs.substr(base, end - base);
    std::string rest = c->hs.substr(end + 4);
    std::string lower = head;
    for (auto& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    bool ok = starts_with(head, "HTTP/1.1 101");
    if (ok) {
        auto k = lower.find("\r\nsec-websocket-accept:");
        if (k == std::string::npos) ok = false;
        else {
            size_t v = head.find_first_not_of(' ', k + 23);
            size_t e = head.find("\r\n", v);
            ok = head.substr(v, (e == std::string::npos ? head.size() : e) - v) == expect;
        }
    }
    if (!ok) {
        return fail(c, std::string("upgrade refused: ") + head.substr(0, head.find("\r\n")));
    }
    c->hs.clear();
    c->hs.shrink_to_fit();
    c->state = conn::open;
    if (kind_ == peer::nchan || sub_msg_.empty()) report(c, true);
    else send_frame(c, 0x1, sub_msg_.data(), sub_msg_.size());
    if (!rest.empty() && c->fd >= 0) on_frames(c, rest.data(), rest.size(), rx);
}

// Streams frames out of [p, p+n): headers are gathered across reads; of the payloads only a
// message's first and last edge_bytes are copied (enough to classify it and read its ts).
void load::on_frames(conn* c, const char* p, size_t n, int64_t rx) {
    const char* end = p + n;
    while (p < end && c->fd >= 0) {
        if (c->stall && c->subscribed) return;  // stops reading for good
        if (!c->in_payload) {
            while (p < end && c->hdr_have < 2) c->hdr[c->hdr_have++] = uint8_t(*p++);
            if (c->hdr_have < 2) return;
            uint8_t len7 = c->hdr[1] & 0x7f;
            size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((c->hdr[1] & 0x80) ? 4 : 0);
            while (p < end && c->hdr_have < need) c->hdr[c->hdr_have++] = uint8_t(*p++);
            if (c->hdr_have < need) return;
            uint64_t len = len7;
            if (len7 == 126) len = (uint64_t(c->hdr[2]) << 8) | c->hdr[3];
            else if (len7 == 127) {
                len = 0;
                for (int i = 0; i < 8; ++i) len = (len << 8) | c->hdr[2 + i];
            }
            c->opcode = c->hdr[0] & 0x0f;
            c->remaining = len;
            if (c->opcode & 0x8) {
                c->ctl_len = 0;
                c->ctl_want = uint8_t(std::min<uint64_t>(len, sizeof c->ctl));
            } else if (c->opcode != 0x0) {  // a new data message
                c->head_len = c->tail_len = 0;
                c->msg_bytes = 0;
            }
            if (!(c->opcode & 0x8)) c->msg_bytes += len;
            c->in_payload = true;
        }
        size_t take = size_t(std::min<uint64_t>(c->remaining, uint64_t(end - p)));
        if (c->opcode & 0x8) {
            size_t k = std::min<size_t>(take, c->ctl_want - c->ctl_len);
            std::memcpy(c->ctl + c->ctl_len, p, k);
            c->ctl_len = uint8_t(c->ctl_len + k);
        } else if (take > 0) {
            if (c->head_len < edge_bytes) {
                size_t k = std::min<size_t>(take, edge_bytes - c->head_len);
                std::memcpy(c->head + c->head_len, p, k);
                c->head_len = uint8_t(c->head_len + k);
            }
            if (take >= edge_bytes) {
                std::memcpy(c->tail, p + take - edge_bytes, edge_bytes);
                c->tail_len = edge_bytes;
            } else {
                size_t keep = std::min<size_t>(c->tail_len, edge_bytes - take);
                std::memmove(c->tail, c->tail + c->tail_len - keep, keep);
                std::memcpy(c->tail + keep, p, take);
                c->tail_len = uint8_t(keep + take);
            }
        }
        p += take;
        c->remaining -= take;
        if (c->remaining == 0) {
            c->in_payload = false;
            c->hdr_have = 0;
            on_frame(c, rx);
        }
    }
}

void load::on_frame(conn* c, int64_t rx) {
    bool fin = c->hdr[0] & 0x80;
    switch (c->opcode) {
        case 0x8:  // close: answer it, then drop
            send_frame(c, 0x8, c->ctl, std::min<size_t>(c->ctl_len, 2));
            if (!c->reported) return fail(c, "close frame before ready");
            ++st.closed;
            return drop(c);
        case 0x9:
            ++st.pings;
            return send_frame(c, 0xA, c->ctl, c->ctl_len);
        case 0x0:
        case 0x1:
        case 0x2:
            if (!fin) return;  // counted when the message is whole
            break;
        default:
            return;
    }
    ++st.data_frames;
    st.data_bytes += int64_t(c->msg_bytes);
    std::string_view head(c->head, c->head_len), tail(c->tail, c->tail_len);
    bool timed = kind_ == peer::nchan;
    switch (classify(head, tail)) {
        case kind::patch: {
            ++st.patches;
            st.patch_bytes += int64_t(c->msg_bytes);
            timed = true;
            // Sorted keys: a catch-up's "from" opens the message, "pos" is near its end.
            int64_t from = -1, pos = -1;
            if (starts_with(head, R"({"from":")")) from = std::atoll(std::string(head.substr(9, 20)).c_str());
            if (auto p = tail.rfind(R"("pos":")"); from >= 0 && p != std::string_view::npos)
                pos = std::atoll(std::string(tail.substr(p + 7, 20)).c_str());
            if (from >= 0 && pos > from) {
                ++st.catch_ups;
                st.covered += pos - from;
            } else {
                ++st.covered;
            }
            break;
        }
        case kind::snapshot:
            if (c->subscribed) ++st.snapshots;
            else {
                c->subscribed = true;
                if (c->stall) set_events(c, c->out.empty() ? 0u : uint32_t(EPOLLOUT));
                report(c, true);
            }
            break;
        case kind::message:
            ++st.messages;
            timed = true;
            break;
        case kind::error:
            std::cerr << "bench: server error: " << head << (c->msg_bytes > c->head_len ? "…" : "") << "\n";
            if (!c->subscribed && !c->reported) fail(c, "error frame before the snapshot");
            break;
        case kind::other:
            break;
    }
    if (timed) {
        if (st.first_rx_us == 0) st.first_rx_us = rx;
        st.last_rx_us = rx;
        if (st.record_latency) {
            constexpr std::string_view key = R"("ts":")";
            auto p = tail.rfind(key);
            std::string_view in = tail;
            if (p == std::string_view::npos) p = head.find(key), in = head;
            if (p != std::string_view::npos) {
                int64_t ts = parse_ts_us(in.data() + p + key.size(), in.size() - p - key.size());
                if (ts > 0) st.latency_ms.push_back(double(rx - ts) / 1000.0);
            }
            constexpr std::string_view path = R"("path":"/)";
            if (auto q = head.find(path); q != std::string_view::npos) {
                int64_t key = 0;
                size_t i = q + path.size(), digits = 0;
                for (; i < head.size() && head[i] >= '0' && head[i] <= '9' && digits < 18; ++i, ++digits)
                    key = key * 10 + (head[i] - '0');
                if (digits > 0) st.rx_by_key.emplace_back(key, rx);
            }
        }
    }
}

}  // namespace pglive::bench
