// backlog_gate.h — back-pressure between two threads: the producer waits while the consumer has too much outstanding.
//
// The listener hands transactions to the hub's strand by posting; without a bound, a hub that
// falls behind (a burst, a slow fan-out) would let the posted batches pile up in memory while
// the listener keeps reading. Through the gate the listener waits instead, and what it has not
// read stays in the outbox, durable, where retention keeps it for this node.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace pglive {

class backlog_gate {
public:
    explicit backlog_gate(size_t limit) : limit_(limit ? limit : 1) {}

    // Waits until fewer than `limit` items are outstanding (or the gate stops), then counts `n`
    // more. False when stopped: the caller hands nothing over.
    bool enter(size_t n) {
        std::unique_lock<std::mutex> g(mu_);
        cv_.wait(g, [&] { return stopped_ || outstanding_ < limit_; });
        if (stopped_) return false;
        outstanding_ += n;
        return true;
    }
    // `n` items were consumed.
    void leave(size_t n) {
        {
            std::lock_guard<std::mutex> g(mu_);
            outstanding_ = n > outstanding_ ? 0 : outstanding_ - n;
        }
        cv_.notify_all();
    }
    // Wakes every waiter for good (shutdown).
    void stop() {
        {
            std::lock_guard<std::mutex> g(mu_);
            stopped_ = true;
        }
        cv_.notify_all();
    }
    size_t outstanding() const {
        std::lock_guard<std::mutex> g(mu_);
        return outstanding_;
    }
    size_t limit() const { return limit_; }

private:
    const size_t limit_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    size_t outstanding_ = 0;  // guarded by mu_
    bool stopped_ = false;    // guarded by mu_
};

}  // namespace pglive
