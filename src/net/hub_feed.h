// hub_feed.h — the listener's transactions, gaps and epochs into the hub, in order, paced by the connections' queues.
//
// Issue 12, overload: the hub fanned out every read batch at once (up to batch_transactions,
// 1,000 by default), so under a write rate above what the sockets drain, every subscriber got
// a thousand frames at a time, passed its queue bound and was resynced — delivery fell to a
// third of the peak while catch-up patches were built per connection. Now the hub takes the
// listener's transactions in chunks (at most a quarter of max_queue_frames, 64 by default) and
// waits before the next chunk while the server is under pressure (many connections hold more
// than a quarter of their bound of patches: net::server::under_pressure). What waits stays here, and
// past `max_outstanding` the listener waits too (backlog_gate), leaving the rest in the outbox,
// durable. A few slow readers are no pressure: they pass their bound and are resynced as
// before. The feed waits as long as the connections keep writing; many readers that stopped
// altogether (nothing written for `max_pause`) let one chunk through per `max_pause`, until
// they have passed their bounds too (a resyncing connection no longer counts).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "core/backlog_gate.h"
#include "core/change.h"
#include "net/hub_runner.h"

namespace pglive {

class hub_feed {
public:
    struct options {
        size_t max_outstanding = 4000;  // transactions read and not yet taken by the hub
        size_t chunk = 64;              // transactions the hub takes between two looks at the pressure
        std::chrono::milliseconds retry{1};       // how often a paused feed looks again
        // A pause in which the connections wrote nothing for this long lets one chunk through.
        std::chrono::milliseconds max_pause{250};
    };
    // `pressure` and `progress` (a count that moves whenever a connection writes: frames
    // written so far) are called on the hub's strand. Destroy the feed only once the hub's
    // io_context has stopped, or everything pushed has been taken and one more handler has run
    // on the hub's strand (its pump and retry timer refer to it).
    hub_feed(hub_runner& runner, options o, std::function<bool()> pressure, std::function<uint64_t()> progress = {});

    // From the listener's thread, in its order. transactions() waits while max_outstanding
    // transactions are outstanding; false when stopped (nothing was taken).
    bool transactions(std::vector<transaction> txs);
    void gap(int64_t from, int64_t to);
    void epoch(int64_t durable_before, int64_t base);
    void stop();  // wakes a waiting listener for good

    size_t outstanding() const { return gate_.outstanding(); }
    uint64_t pauses() const { return pauses_.load(); }  // times the feed waited for the connections
    uint64_t stalled_chunks() const { return stalled_chunks_.load(); }  // chunks let through after max_pause

private:
    struct item {
        enum class what { transactions, gap, epoch } kind = what::transactions;
        std::vector<transaction> txs;
        size_t next = 0;  // txs[next..] not yet taken
        int64_t a = 0, b = 0;  // gap: from, to; epoch: durable_before, base
    };
    void push(item it);
    void pump(hub& h);  // on the hub's strand

    hub_runner& runner_;
    const options opt_;
    std::function<bool()> pressure_;
    std::function<uint64_t()> progress_;
    backlog_gate gate_;
    std::mutex mu_;
    std::deque<item> items_;  // guarded by mu_
    bool scheduled_ = false;  // guarded by mu_: a pump is posted or its retry armed
    // strand-only:
    bool pausing_ = false;
    std::chrono::steady_clock::time_point pause_since_{};  // the pause's start, or its last progress
    uint64_t last_progress_ = 0;
    std::chrono::steady_clock::time_point last_stall_log_{};
    std::atomic<uint64_t> pauses_{0};
    std::atomic<uint64_t> stalled_chunks_{0};  // chunks let through under pressure for want of progress
};

}  // namespace pglive
