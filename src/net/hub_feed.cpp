// hub_feed.cpp — chunks of the listener's stream into the hub, pausing while the connections' queues are deep.
#include "net/hub_feed.h"

#include <algorithm>
#include <exception>
#include <string>
#include <iterator>
#include <utility>

#include "core/log.h"

namespace pglive {

hub_feed::hub_feed(hub_runner& runner, options o, std::function<bool()> pressure, std::function<uint64_t()> progress)
    : runner_(runner),
      opt_(o),
      pressure_(std::move(pressure)),
      progress_(std::move(progress)),
      gate_(std::max<size_t>(o.max_outstanding, 1)) {}

bool hub_feed::transactions(std::vector<transaction> txs) {
    if (txs.empty()) return true;
    if (!gate_.enter(txs.size())) return false;  // stopping
    item it;
    it.txs = std::move(txs);
    push(std::move(it));
    return true;
}

void hub_feed::gap(int64_t from, int64_t to) {
    item it;
    it.kind = item::what::gap;
    it.a = from, it.b = to;
    push(std::move(it));
}

void hub_feed::epoch(int64_t durable_before, int64_t base) {
    item it;
    it.kind = item::what::epoch;
    it.a = durable_before, it.b = base;
    push(std::move(it));
}

void hub_feed::stop() { gate_.stop(); }

void hub_feed::push(item it) {
    bool post;
    {
        std::lock_guard<std::mutex> g(mu_);
        items_.push_back(std::move(it));
        post = !scheduled_;
        scheduled_ = true;
    }
    if (post) runner_.post([this](hub& h) { pump(h); });
}

void hub_feed::pump(hub& h) {
    const size_t chunk = std::max<size_t>(opt_.chunk, 1);
    for (;;) {
        item front;
        size_t taken = 0;
        bool more = false;  // after this chunk: yield the strand to the hub's other work first
        bool say_stalled = false;  // this chunk goes for want of progress, and the log has not said so for 10 s
        uint64_t stalled = 0;
        {
            std::lock_guard<std::mutex> g(mu_);
            if (items_.empty()) {
                scheduled_ = false;
                return;
            }
            auto& it = items_.front();
            if (it.kind != item::what::transactions) {
                front = std::move(it);
                items_.pop_front();
            } else {
                if (pressure_ && pressure_()) {
                    auto now = std::chrono::steady_clock::now();
                    uint64_t moved = progress_ ? progress_() : 0;
                    if (!pausing_) {
                        pausing_ = true;
                        pause_since_ = now;
                        last_progress_ = moved;
                        ++pauses_;
                    } else if (moved != last_progress_) {
                        last_progress_ = moved;  // the connections are draining: wait on
                        pause_since_ = now;
                    }
                    if (now - pause_since_ < opt_.max_pause) {
                        // Still scheduled: arrivals meanwhile do not post a second pump.
                        runner_.post_after(opt_.retry, [this](hub& hh) { pump(hh); });
                        return;
                    }
                    pause_since_ = now;  // one chunk through; the next waits again
                    stalled = ++stalled_chunks_;
                    if (now - last_stall_log_ >= std::chrono::seconds(10)) {
                        last_stall_log_ = now;
                        say_stalled = true;
                    }
                } else {
                    pausing_ = false;
                }
                size_t n = std::min(chunk, it.txs.size() - it.next);
                bool whole = it.next == 0 && n == it.txs.size();
                front.kind = item::what::transactions;
                if (whole) {
                    front.txs = std::move(it.txs);
                } else {
                    auto from = it.txs.begin() + std::ptrdiff_t(it.next);
                    front.txs.assign(std::make_move_iterator(from), std::make_move_iterator(from + std::ptrdiff_t(n)));
                }
                it.next += n;
                taken = n;
                if (whole || it.next >= it.txs.size()) items_.pop_front();
                more = !items_.empty();
            }
        }
        if (say_stalled)  // outside mu_: the listener's push() takes it
            log_warn("hub feed: under pressure and no connection wrote anything for " +
                     std::to_string(opt_.max_pause.count()) + " ms; letting one chunk of " + std::to_string(taken) +
                     " transactions through (" + std::to_string(stalled) + " such chunks so far, " +
                     std::to_string(outstanding()) + " transactions waiting)");
        // No exception leaves the pump: the rest of the stream must still be delivered (the
        // hub logs and serves on, as hub_runner does for every handler).
        try {
            switch (front.kind) {
                case item::what::transactions:
                    h.on_transactions(front.txs);
                    break;
                case item::what::gap:
                    h.on_gap(front.a, front.b);
                    break;
                case item::what::epoch:
                    h.on_epoch(front.a, front.b);
                    break;
            }
        } catch (const std::exception& e) {
            log_error(std::string("hub: internal error: ") + e.what());
        } catch (...) {
            log_error("hub: internal error (a non-standard exception)");
        }
        if (taken) gate_.leave(taken);
        if (more) {
            // Still scheduled: subscriptions and resyncs queued on the strand run between chunks.
            runner_.post([this](hub& hh) { pump(hh); });
            return;
        }
    }
}

}  // namespace pglive
