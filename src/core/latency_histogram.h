// latency_histogram.h — a latency histogram in whole microseconds that any thread may observe into (Prometheus buckets, quantiles).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace pglive {

class latency_histogram {
public:
    // Upper bounds of the buckets in µs; one more bucket above the last (+Inf).
    static constexpr std::array<int64_t, 17> bounds_us = {100,    250,    500,     1000,    2000,    3000,
                                                          5000,   10000,  20000,   50000,   100000,  250000,
                                                          500000, 1000000, 2500000, 5000000, 10000000};
    static constexpr size_t buckets = bounds_us.size() + 1;

    // A negative span (two clocks a little apart) counts as 0.
    void observe_us(int64_t us) {
        if (us < 0) us = 0;
        size_t i = 0;
        while (i < bounds_us.size() && us > bounds_us[i]) ++i;
        counts_[i].fetch_add(1, std::memory_order_relaxed);
        count_.fetch_add(1, std::memory_order_relaxed);
        sum_us_.fetch_add(uint64_t(us), std::memory_order_relaxed);
    }
    // Observes now_us − from_us, unless `from_us` is unknown (0).
    void observe_span(int64_t from_us, int64_t now_us) {
        if (from_us != 0) observe_us(now_us - from_us);
    }

    uint64_t count() const { return count_.load(std::memory_order_relaxed); }
    uint64_t sum_us() const { return sum_us_.load(std::memory_order_relaxed); }
    uint64_t bucket(size_t i) const { return counts_[i].load(std::memory_order_relaxed); }

private:
    std::array<std::atomic<uint64_t>, buckets> counts_{};
    std::atomic<uint64_t> count_{0};
    std::atomic<uint64_t> sum_us_{0};
};

// The pipeline's stages, each timed from the writer's commit (the outbox `ts`) to its end.
enum class pipeline_stage { sequenced, read, hub, handed, written };
inline constexpr size_t pipeline_stage_count = 5;
// "sequenced", "read", "hub", "handed", "written": the `stage` label on /metrics.
const char* stage_name(pipeline_stage s);

struct pipeline_timings {
    std::array<latency_histogram, pipeline_stage_count> stage;
    latency_histogram& operator[](pipeline_stage s) { return stage[size_t(s)]; }
    const latency_histogram& operator[](pipeline_stage s) const { return stage[size_t(s)]; }
};

// Wall clock, µs since the epoch (the outbox `ts` is on this clock).
int64_t wall_now_us();

}  // namespace pglive
