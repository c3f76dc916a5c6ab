// shard.h — connections grouped on a few strands, woken together.
//
// At fan-out the hub hands a frame to every subscriber per transaction. Posting a wake-up to
// each connection's own strand cost a heap closure, two mutexes and often a futex wake of the
// other I/O thread per frame — most of the hub thread's time. Connections instead live on a
// few shard strands; a connection with new frames joins its shard's pending list, and only
// the first one since the shard last ran posts the shard. The shard then drains each pending
// connection's inbox in turn. Shards run in parallel; a shard's connections run one at a time
// (their handlers are short: a read, a write, an inbox drain).
#pragma once

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

namespace pglive {

// A connection whose inbox the shard drains, on the shard's strand.
class drainable {
public:
    virtual ~drainable() = default;
    virtual void drain() = 0;
};

class shard : public std::enable_shared_from_this<shard> {
public:
    using executor_type = boost::asio::strand<boost::asio::io_context::executor_type>;

    explicit shard(boost::asio::io_context& io) : strand_(boost::asio::make_strand(io)) {}
    const executor_type& executor() const { return strand_; }

    // From any thread.
    void schedule(std::shared_ptr<drainable> d) {
        bool first;
        {
            std::lock_guard<std::mutex> g(mutex_);
            pending_.push_back(std::move(d));
            first = !posted_;
            posted_ = true;
        }
        if (first) boost::asio::post(strand_, [self = shared_from_this()] { self->run(); });
    }

private:
    void run() {
        {
            std::lock_guard<std::mutex> g(mutex_);
            running_.swap(pending_);
            posted_ = false;
        }
        for (auto& d : running_) d->drain();
        running_.clear();
    }

    executor_type strand_;
    std::mutex mutex_;
    std::vector<std::shared_ptr<drainable>> pending_;  // guarded by mutex_
    bool posted_ = false;                              // guarded by mutex_: a run is queued
    std::vector<std::shared_ptr<drainable>> running_;  // strand-only
};

}  // namespace pglive
