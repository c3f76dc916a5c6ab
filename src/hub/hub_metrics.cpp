// hub_metrics.cpp — the commit-to-handover latency histogram.
#include "hub/hub_metrics.h"


namespace pglive {


void hub_stats::observe_latency(int64_t commit, int64_t now_us) {
    if (commit == 0) return;
    double seconds = double(now_us - commit) / 1e6;
    size_t i = 0;
    while (i < std::size(latency_buckets) && seconds > latency_buckets[i]) ++i;
    if (i < std::size(latency_buckets)) ++latency_counts[i];
    ++latency_count;
    latency_sum += seconds;
}

}  // namespace pglive
