// hub_metrics.h — the hub's counters for /metrics (its stage timings are core/latency_histogram.h's).
#pragma once

#include <cstdint>
#include <iterator>
#include <map>
#include <string>

namespace pglive {

// Counters for /metrics (read on the hub strand).
struct hub_stats {
    uint64_t transactions = 0;
    uint64_t patches_sent = 0;     // patch frames handed to connections
    uint64_t messages_sent = 0;
    uint64_t snapshots_sent = 0;
    uint64_t resyncs = 0;
    uint64_t catch_ups = 0;        // of their subscriptions, brought up to date by one merged patch
    uint64_t epochs_lost = 0;      // sequencer epochs whose lost positions this hub had received (reloaded)
    uint64_t undecodable_changes = 0;  // outbox changes pglive could not decode (skipped, logged)
    int64_t position = 0;          // last transaction seen
    int64_t last_ts_us = 0;        // its commit time, µs since the epoch (0: unknown)
    std::map<std::string, uint64_t> changes_by_topic;
    std::map<std::string, uint64_t> patches_by_topic;
    std::map<std::string, uint64_t> subscriptions_by_topic;
    size_t connections = 0;
    size_t topics_held = 0;        // topic and channel states in memory (updated by tick() and set_topics)

    // Per-topic series exist only for attached topics: the others' go (a detach).
    template <class Attached>
    void keep_series_of(const Attached& attached) {
        for (auto* series : {&changes_by_topic, &patches_by_topic, &subscriptions_by_topic})
            for (auto it = series->begin(); it != series->end();)
                it = attached.count(it->first) ? std::next(it) : series->erase(it);
    }
};

}  // namespace pglive
