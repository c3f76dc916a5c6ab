// hub_metrics.h — the hub's counters for /metrics, and the commit-to-handover latency histogram.
#pragma once

#include <cstdint>
#include <iterator>
#include <map>
#include <string>

namespace pglive {

// Counters for /metrics (read on the hub strand).
struct hub_stats {
    // Commit → handed to connections, in seconds (Prometheus histogram buckets).
    static constexpr double latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
    uint64_t latency_counts[std::size(latency_buckets)] = {};  // non-cumulative per bucket
    uint64_t latency_count = 0;
    double latency_sum = 0;
    uint64_t transactions = 0;
    uint64_t patches_sent = 0;     // patch frames handed to connections
    uint64_t messages_sent = 0;
    uint64_t snapshots_sent = 0;
    uint64_t resyncs = 0;
    uint64_t undecodable_changes = 0;  // outbox changes pglive could not decode (skipped, logged)
    int64_t position = 0;          // last transaction seen
    int64_t last_ts_us = 0;        // its commit time, µs since the epoch (0: unknown)
    std::map<std::string, uint64_t> changes_by_topic;
    std::map<std::string, uint64_t> patches_by_topic;
    std::map<std::string, uint64_t> subscriptions_by_topic;
    size_t connections = 0;
    size_t topics_held = 0;        // topic and channel states in memory (updated by tick() and set_topics)

    // A transaction committed at `commit_us` reached connections at `now_us` (both µs since the
    // epoch). An unknown commit time (0) is not counted.
    void observe_latency(int64_t commit_us, int64_t now_us);
    // Per-topic series exist only for attached topics: the others' go (a detach).
    template <class Attached>
    void keep_series_of(const Attached& attached) {
        for (auto* series : {&changes_by_topic, &patches_by_topic, &subscriptions_by_topic})
            for (auto it = series->begin(); it != series->end();)
                it = attached.count(it->first) ? std::next(it) : series->erase(it);
    }
};

}  // namespace pglive
