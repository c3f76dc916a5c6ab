// wsload.h — the bench's WebSocket load client: one thread, epoll, raw non-blocking sockets and
// a minimal RFC 6455 client (upgrade with Sec-WebSocket-Key, unmasked server frames parsed from
// one shared 64 KiB read buffer, masked client frames). Per received message it does a header
// parse, a copy of at most the payload's first and last 160 bytes and a short search for
// "type", so a fan-out run measures the server, not the client. Up to 25,000 connections per source address
// (127.0.0.1, 127.0.0.2, …) keep the ephemeral port range from running out.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <sys/types.h>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pglive::bench {

// Wall-clock µs since the epoch (the clock the server's `ts` is written in).
int64_t now_us();
// utime + stime of a process so far, in seconds (/proc/PID/stat).
double proc_cpu_s(pid_t pid);
// "2026-11-22T10:00:00.123456Z" → µs since the epoch; -1 when it is not that shape.
int64_t parse_ts_us(const char* s, size_t n);
// The same shape, for now_us()-style µs.
std::string format_ts_us(int64_t us);

struct load_stats {
    int64_t patches = 0;      // messages with "type":"patch"
    int64_t catch_ups = 0;    // of them, catch-up patches (a resync merging what was missed: "from")
    int64_t covered = 0;      // positions the patches cover: 1 each, a catch-up pos − from
    int64_t messages = 0;     // "type":"message"
    int64_t snapshots = 0;    // after each connection's first one: resyncs
    int64_t data_frames = 0;  // every text/binary message, however fragmented (Nchan: the published ones)
    int64_t data_bytes = 0;   // their payload bytes
    int64_t patch_bytes = 0;  // the patches' payload bytes
    int64_t ready = 0;        // subscribed (first snapshot), or upgraded when there is nothing to wait for
    int64_t failed = 0;       // connect, upgrade or subscribe failed before ready
    int64_t closed = 0;       // closed by the server after ready
    int64_t pings = 0;        // server pings answered
    std::map<std::string, int64_t> fail_reasons;  // why connections failed before ready
    bool record_latency = false;  // receive time − "ts" of each patch/message (Nchan: data frame) into latency_ms
    std::vector<double> latency_ms;
    // With record_latency: each patch's first row key when it is a number ("path":"/123…"),
    // and its receive time — matched against the writers' COMMIT acknowledgements.
    std::vector<std::pair<int64_t, int64_t>> rx_by_key;
    int64_t first_rx_us = 0, last_rx_us = 0;  // of patches/data frames
};

class load {
public:
    // What counts as ready: pglive — the first snapshot of the subscription (or the upgrade for
    // an idle connection, topic ""); nchan — the upgrade (the subscription is the URL).
    enum class peer { pglive, nchan };
    load(uint16_t port, peer kind = peer::pglive, std::string path = "/ws");
    ~load();  // aborts every connection (RST: no TIME_WAIT left on the source ports)
    load(const load&) = delete;
    load& operator=(const load&) = delete;

    // Opens n more connections (at most `window` handshaking at once), each subscribing to
    // `topic` (pglive, unless empty); `stall`: a 4 KiB receive buffer and no reading after the
    // first snapshot. Waits until each is ready or failed, or the deadline; returns st.ready.
    int64_t open(int n, const std::string& topic, bool stall = false,
                 std::chrono::milliseconds deadline = std::chrono::seconds(30), int window = 512);
    // Throughput runs: after an epoll round that did not fill the event array, sleep this long
    // before the next one, so each recv() takes several frames instead of one (the kernel's
    // socket buffers hold them meanwhile). Adds up to that much to each receive time: leave it
    // at 0 when measuring latency.
    void set_coalesce(std::chrono::microseconds d) { coalesce_us_ = d.count(); }
    // Runs f on the client thread and waits for it: the only safe way to read or change `st`.
    void sync(const std::function<void()>& f);
    load_stats st;

private:
    struct conn;
    void run();
    void post(std::function<void()> f);
    void start_next();
    void start_conn();
    void on_event(conn* c, uint32_t ev);
    void on_connected(conn* c);
    void on_readable(conn* c);
    void on_handshake(conn* c, const char* p, size_t n, int64_t rx);
    void on_frames(conn* c, const char* p, size_t n, int64_t rx);
    void on_frame(conn* c, int64_t rx);
    void send(conn* c, const char* p, size_t n);
    void send_frame(conn* c, int opcode, const char* p, size_t n);
    void flush(conn* c);
    void set_events(conn* c, uint32_t ev);
    void report(conn* c, bool ok);
    void fail(conn* c, const std::string& why);
    void drop(conn* c);

    uint16_t port_;
    peer kind_;
    std::string path_;
    int ep_ = -1, wake_ = -1;
    std::atomic<bool> stop_{false};
    std::atomic<int64_t> coalesce_us_{0};
    std::mutex mutex_;
    std::vector<std::function<void()>> tasks_;  // guarded by mutex_
    std::vector<conn*> conns_;                  // every connection ever opened; client thread only
    std::string topic_, sub_msg_;
    bool stall_ = false, starting_ = false;
    int want_ = 0, started_ = 0, inflight_ = 0, window_ = 512;
    std::atomic<int> done_{0};  // connections that are ready or failed
    uint64_t rng_ = 0x9e3779b97f4a7c15ull;
    std::vector<char> rbuf_;
    std::thread thread_;
};

}  // namespace pglive::bench
