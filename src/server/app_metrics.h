// app_metrics.h — GET /metrics for `pglive serve`: the hub's counters, the link and the database status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/exact_json.h"
#include "core/latency_histogram.h"
#include "hub/hub_metrics.h"

namespace pglive {

struct serve_metrics_input {
    const hub_stats& hub;
    const json& status;   // the last admin status (outbox size, lag, notification queue), or null
    bool link_up = false;
    uint64_t link_downs = 0;
    size_t topics = 0;
    const pipeline_timings* timings = nullptr;  // the stage timings, when kept
    size_t hub_backlog = 0;  // transactions read by the listener, not yet taken by the hub
    uint64_t feed_pauses = 0;  // times the hub waited for the connections' queues (hub_feed)
    uint64_t feed_stalled_chunks = 0;  // chunks it let through after a pause without progress
};

// The Prometheus text exposition of everything serve knows (net adds its own series).
std::string serve_metrics_text(const serve_metrics_input& in);

}  // namespace pglive
