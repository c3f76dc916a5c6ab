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

    // A negative span (two clocks a little apart) counts as 0. Each thread writes a stripe of
    // its own (cache-line apart): the connections' shard threads time every frame they write,
    // and one shared counter bounced between the cores cost a tenth of a fan-out.
    void observe_us(int64_t us) {
        if (us < 0) us = 0;
        size_t i = 0;
        while (i < bounds_us.size() && us > bounds_us[i]) ++i;
        auto& st = stripes_[stripe_of_this_thread()];
        st.counts[i].fetch_add(1, std::memory_order_relaxed);
        st.sum_us.fetch_add(uint64_t(us), std::memory_order_relaxed);
    }
    // Observes now_us − from_us, unless either end is unknown (0).
    void observe_span(int64_t from_us, int64_t now_us) {
        if (from_us != 0 && now_us != 0) observe_us(now_us - from_us);
    }

    uint64_t bucket(size_t i) const {
        uint64_t n = 0;
        for (auto& st : stripes_) n += st.counts[i].load(std::memory_order_relaxed);
        return n;
    }
    uint64_t count() const {
        uint64_t n = 0;
        for (size_t i = 0; i < buckets; ++i) n += bucket(i);
        return n;
    }
    uint64_t sum_us() const {
        uint64_t n = 0;
        for (auto& st : stripes_) n += st.sum_us.load(std::memory_order_relaxed);
        return n;
    }

private:
    static constexpr size_t stripe_count = 4;
    struct alignas(64) stripe {
        std::array<std::atomic<uint64_t>, buckets> counts{};
        std::atomic<uint64_t> sum_us{0};
    };
    static size_t stripe_of_this_thread() {
        static std::atomic<size_t> next{0};
        thread_local size_t mine = next.fetch_add(1, std::memory_order_relaxed) % stripe_count;
        return mine;
    }
    std::array<stripe, stripe_count> stripes_{};
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
