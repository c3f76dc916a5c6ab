// backoff.h — the one reconnect delay: 100 ms, doubling to at most 5 s, reset on success.
#pragma once

#include <algorithm>
#include <cstdint>

namespace pglive {

class backoff {
public:
    static constexpr int64_t first_ms = 100;
    static constexpr int64_t max_ms = 5000;

    // The delay to wait now; the next call returns twice as much, up to max_ms.
    int64_t next() {
        int64_t d = delay_ms_;
        delay_ms_ = std::min(delay_ms_ * 2, max_ms);
        return d;
    }
    // The delay the next call to next() returns (for log lines).
    int64_t peek() const { return delay_ms_; }
    void reset() { delay_ms_ = first_ms; }

    // The delay after `failures` consecutive failures without keeping state (0 → first_ms).
    static int64_t after(int failures) {
        return std::min<int64_t>(max_ms, first_ms << std::clamp(failures, 0, 6));
    }

private:
    int64_t delay_ms_ = first_ms;
};

}  // namespace pglive
