// net_metrics.h — the network's counters (connections, frames, bytes, overflows, disconnect reasons) and their Prometheus text.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace pglive {

// Counters shared by every session (atomics: written from many strands).
struct net_stats {
    std::atomic<uint64_t> http_requests{0};
    std::atomic<uint64_t> ws_total{0}, sse_total{0}, polls_total{0};
    std::atomic<int64_t> ws_open{0}, sse_open{0};
    std::atomic<uint64_t> frames_sent{0}, bytes_sent{0};
    std::atomic<uint64_t> queue_overflows{0}, frames_dropped{0};
    // Connections whose patches fill a quarter of their queue bound or more (and that are not
    // resyncing): when many are, the server, not a few slow readers, is behind (under_pressure).
    std::atomic<int64_t> deep_queues{0};
    std::mutex mutex_;
    std::map<std::string, uint64_t> closes;  // guarded by mutex_: reason → count
    // Label values come from a fixed set: a reason outside it (an error's own text) counts as
    // "error", so neither a client nor the kernel can grow the series.
    void closed(const std::string& reason) {
        static const char* const known[] = {"closed by client", "message over max_message_bytes (1009)",
                                            "no answer to pings (pong_timeout_s)", "server stopping", "token expired",
                                            "sse closed by client", "sse write timed out (ping_interval_s + pong_timeout_s)",
                                            "sse token expired"};
        std::string label = "error";
        for (const char* k : known)
            if (reason == k) label = k;
        std::lock_guard<std::mutex> g(mutex_);
        ++closes[label];
    }
};

// Prometheus text of `s`.
std::string net_metrics_text(net_stats& s);

}  // namespace pglive
