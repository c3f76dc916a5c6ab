// outbound.h — a connection's bounded send queue: one write in flight, overflow → resync.
//
// Shared by the WebSocket and SSE sessions (CRTP: Derived provides executor(), write_frames(),
// fail() and is enable_shared_from_this). Frames from the hub's strand land in a small
// mutex-guarded inbox; the first frame of a batch puts the connection on its shard's pending
// list (shard.h), and the shard drains it on the connection's strand. At fan-out the hub hands
// out one frame per connection per transaction, and a posted closure per frame was half of the
// server's time. Everything else is strand-only.
#pragma once

#include <atomic>
#include <chrono>
#include <ctime>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>

#include "core/latency_histogram.h"
#include "core/log.h"
#include "hub/client.h"
#include "net/server.h"

namespace pglive {

// One frame in a connection's inbox or send queue. In the inbox, a null frame is a marker:
// tag 0 ends a resync, another tag supersedes that subscription's queued frames.
struct queued_frame {
    frame f;
    frame_kind kind = frame_kind::reply;
    uint64_t tag = 0;  // the subscription a snapshot or patch belongs to
    frame_stamp stamp;  // its position (resync: the catch-up starts there); commit time: timed when written
};

template <class Derived>
class outbound : public client, public drainable {
public:
    // `on`: the shard whose strand the connection's stream runs on (chosen at accept).
    outbound(std::shared_ptr<net_context> ctx, shard& on) : ctx_(std::move(ctx)), shard_(on), id_(ctx_->next_id++) {}
    ~outbound() override {
        if (deep_) ctx_->stats.deep_queues -= 1;
    }

    // From the hub's strand: into the inbox; the first item of a batch wakes our strand.
    void send(frame f, frame_kind kind, uint64_t tag, frame_stamp stamp = {}) override {
        to_inbox(std::move(f), kind, tag, stamp);
    }
    // Ordered with the frames: null frames in the inbox are markers (queued_frame).
    void resynced() override { to_inbox(nullptr, frame_kind::reply, 0); }
    void supersede(uint64_t tag) override {
        if (tag) to_inbox(nullptr, frame_kind::reply, tag);
    }

protected:
    Derived& self() { return static_cast<Derived&>(*this); }

    void to_inbox(frame f, frame_kind kind, uint64_t tag = 0, frame_stamp stamp = {}) {
        bool first;
        {
            std::lock_guard<std::mutex> g(inbox_mu_);
            first = inbox_.empty();
            if (f && (kind == frame_kind::patch || kind == frame_kind::message)) {
                ++inbox_patches_;
                inbox_bytes_ += f->size();
            }
            inbox_.push_back(queued_frame{std::move(f), kind, tag, stamp});
            recount_locked();  // the hub hands out faster than the shards admit: the inbox counts too
        }
        if (first) shard_.schedule(self().shared_from_this());
    }

    // On our strand (the shard's): admit what the inbox holds and start writing.
    void drain() override {
        size_t taken_patches = 0, taken_bytes = 0;  // still counted as inbox until admitted (note_depth)
        {
            std::lock_guard<std::mutex> g(inbox_mu_);
            taken_.swap(inbox_);
            taken_patches = inbox_patches_;
            taken_bytes = inbox_bytes_;
        }
        for (auto& item : taken_) {
            if (item.f) {
                admit(std::move(item.f), item.kind, item.tag, item.stamp);
            } else if (item.tag) {
                drop_tagged(item.tag);
            } else {
                resyncing_ = false;
                resync_asked_ = false;
            }
        }
        taken_.clear();
        note_depth(taken_patches, taken_bytes);  // now in the queue (or dropped); a resync may have ended
        if (taken_.capacity() > 64) taken_.shrink_to_fit();  // an idle connection keeps no burst-sized buffer
        if (!writing_ && !queue_.empty()) write_next();
    }

    // A token's `exp` holds for the open connection too: at that moment Derived::expired() is
    // called (on our strand), unless a later call re-arms or disarms it (an `auth` renewal).
    void arm_expiry(std::optional<int64_t> expires) {
        if (expiry_) expiry_->cancel();
        if (!expires) return;
        if (!expiry_) expiry_ = std::make_unique<boost::asio::steady_timer>(self().executor());
        int64_t left = *expires - int64_t(std::time(nullptr));
        expiry_->expires_after(std::chrono::seconds(std::max<int64_t>(0, left)));
        expiry_->async_wait([s = self().shared_from_this(), generation = ++expiry_generation_](boost::beast::error_code ec) {
            if (ec || s->closed_ || generation != s->expiry_generation_) return;
            s->expired();
        });
    }
    // Ends the connection (Derived::fail with no error and `why`) once what is queued is written.
    void end_after_drain(const char* why) {
        end_why_ = why;
        if (!writing_ && queue_.empty()) self().fail({}, why);
    }
    void disarm_expiry() {
        ++expiry_generation_;
        if (expiry_) expiry_->cancel();
    }

    // A frame of the connection's own (a reply, an SSE ping), queued behind what is there.
    void enqueue(frame f, frame_kind kind) {
        admit(std::move(f), kind);
        if (!writing_ && !queue_.empty()) write_next();
    }

    // The bound protects memory from a stalled reader; snapshots always pass (a snapshot is
    // what ends a resync; a replaced subscription's queued one is dropped, see drop_tagged),
    // patches and messages past it start a resync, replies past twice it close the connection.
    //
    // A snapshot does not count against the patches behind it, and it widens their bound by its
    // own size until the connection has caught up: a client whose link is faster than the
    // topic's patch rate receives an S-byte snapshot in the time the topic writes fewer than S
    // bytes of patches, so it always goes live, whatever S is next to max_queue_bytes (counting
    // the snapshot, a patch arriving during a snapshot larger than the bound resynced forever).
    // A slower client still overflows; what one connection holds stays below twice its largest
    // snapshot plus the bound.
    void admit(frame f, frame_kind kind, uint64_t tag = 0, frame_stamp stamp = {}) {
        if (closed_) return;
        bool droppable = kind == frame_kind::patch || kind == frame_kind::message;
        if (droppable) {
            if (resyncing_) {
                ++ctx_->stats.frames_dropped;
                return;
            }
            size_t frames = queue_.size() - snapshot_frames_, bytes = queued_bytes_ - snapshot_bytes_;
            if (frames >= ctx_->opt.max_queue_frames + allowance_ / min_patch_bytes ||
                bytes + f->size() > ctx_->opt.max_queue_bytes + allowance_) {
                overflow();
                ++ctx_->stats.frames_dropped;
                return;
            }
        } else if (kind == frame_kind::reply &&
                   queued_bytes_ - snapshot_bytes_ + f->size() > 2 * ctx_->opt.max_queue_bytes + allowance_) {
            // Replies cannot be dropped; a client that keeps asking without reading them is
            // cut off rather than held in memory without bound.
            log_warn("conn " + std::to_string(id_) + ": replies unread past twice max_queue_bytes: closing");
            self().fail(boost::asio::error::no_buffer_space, "send queue");
            return;
        } else if (kind == frame_kind::snapshot) {
            snapshot_bytes_ += f->size();
            ++snapshot_frames_;
            allowance_ = std::max(allowance_, f->size());
        }
        queued_bytes_ += f->size();
        queue_.push_back(queued_frame{std::move(f), kind, tag, stamp});
    }

    // deep_queues (net_stats): a connection whose patches (queued, and in the inbox, not yet
    // admitted) fill a quarter of its bound counts until they are down to an eighth (the other
    // three quarters absorb the hub's chunks while connections drain out of step; hysteresis: a queue
    // near the mark does not flip the count at every frame); one that is resyncing or closed
    // does not count. On our strand after the queue changed; to_inbox recounts on the hub's.
    // `admitted`/`admitted_bytes`: inbox frames drain() has moved into the queue since.
    void note_depth(size_t admitted = 0, size_t admitted_bytes = 0) {
        queue_patches_.store(queue_.size() - snapshot_frames_, std::memory_order_relaxed);
        queue_patch_bytes_.store(queued_bytes_ - snapshot_bytes_, std::memory_order_relaxed);
        uncounted_.store(resyncing_ || closed_, std::memory_order_relaxed);
        std::lock_guard<std::mutex> g(inbox_mu_);
        inbox_patches_ -= std::min(admitted, inbox_patches_);
        inbox_bytes_ -= std::min(admitted_bytes, inbox_bytes_);
        recount_locked();
    }
    void recount_locked() {  // inbox_mu_ held
        size_t frames = inbox_patches_ + queue_patches_.load(std::memory_order_relaxed);
        size_t bytes = inbox_bytes_ + queue_patch_bytes_.load(std::memory_order_relaxed);
        size_t max_frames = ctx_->opt.max_queue_frames, max_bytes = ctx_->opt.max_queue_bytes;
        bool deep = !uncounted_.load(std::memory_order_relaxed) &&
                    (deep_ ? frames * 8 > max_frames || bytes * 8 > max_bytes : frames * 4 >= max_frames || bytes * 4 >= max_bytes);
        if (deep == deep_) return;
        deep_ = deep;
        ctx_->stats.deep_queues += deep ? 1 : -1;
    }

    // Off the queue's front (written, or dropped on close).
    void forget(const queued_frame& item) {
        queued_bytes_ -= item.f->size();
        if (item.kind == frame_kind::snapshot) {
            snapshot_bytes_ -= item.f->size();
            --snapshot_frames_;
        }
    }

    void overflow() {
        ++ctx_->stats.queue_overflows;
        resyncing_ = true;
        size_t dropped = 0;
        std::deque<queued_frame> keep;
        for (size_t i = 0; i < queue_.size(); ++i) {
            auto& item = queue_[i];
            bool in_flight = i < in_flight_;
            if (in_flight || item.kind == frame_kind::reply || item.kind == frame_kind::snapshot) {
                keep.push_back(std::move(item));
            } else {
                forget(item);
                ++dropped;
            }
        }
        queue_ = std::move(keep);
        note_depth();
        ctx_->stats.frames_dropped += dropped;
        log_warn("conn " + std::to_string(id_) + ": send queue over its bound (max_queue_frames " +
                 std::to_string(ctx_->opt.max_queue_frames) + ", max_queue_bytes " +
                 std::to_string(ctx_->opt.max_queue_bytes) + "): dropped " + std::to_string(dropped) +
                 " pending patches; a fresh snapshot follows once it drains");
        maybe_ask_resync();
    }

    // A replaced or ended subscription: its frames not yet being written go.
    void drop_tagged(uint64_t tag) {
        std::erase_if(written_pos_, [tag](const auto& w) { return w.first == tag; });
        std::deque<queued_frame> keep;
        for (size_t i = 0; i < queue_.size(); ++i) {
            auto& item = queue_[i];
            if (i >= in_flight_ && item.tag == tag) forget(item);
            else keep.push_back(std::move(item));
        }
        queue_ = std::move(keep);
    }

    // Hands the front of the queue to Derived::write_frames, which takes as many frames as its
    // transport can send in one gathered write (both take every queued frame, up to a bound)
    // and returns how many it took.
    void write_next() {
        writing_ = true;
        in_flight_ = self().write_frames(queue_, [s = self().shared_from_this()](boost::beast::error_code ec, size_t n) {
            s->on_write(ec, n);
        });
    }

    void on_write(boost::beast::error_code ec, size_t n) {
        writing_ = false;
        if (closed_) return;
        if (ec) {
            in_flight_ = 0;
            self().fail(ec, "write");
            return;
        }
        ctx_->stats.frames_sent += in_flight_;
        ctx_->stats.bytes_sent += n;
        int64_t now_us = ctx_->timings ? wall_now_us() : 0;
        for (; in_flight_ > 0; --in_flight_) {
            auto& item = queue_.front();
            if (now_us) (*ctx_->timings)[pipeline_stage::written].observe_span(item.stamp.commit_us, now_us);
            if (item.tag && item.stamp.pos) note_written(item.tag, item.stamp.pos);
            forget(item);
            queue_.pop_front();
        }
        note_depth();
        // Caught up after its snapshots: back to the plain bound.
        if (snapshot_frames_ == 0 && queued_bytes_ <= ctx_->opt.max_queue_bytes) allowance_ = 0;
        if (!queue_.empty()) write_next();
        else if (end_why_) self().fail({}, end_why_);
        else maybe_ask_resync();
    }

    // On close: what is not in flight goes (the write in flight still reads its buffers).
    void drop_queued() {
        auto from = queue_.begin() + std::ptrdiff_t(writing_ ? in_flight_ : 0);
        for (auto it = from; it != queue_.end(); ++it) forget(*it);
        queue_.erase(from, queue_.end());
        note_depth();  // closed: no longer counts
    }

    void maybe_ask_resync() {
        if (!resyncing_ || resync_asked_ || writing_ || !queue_.empty()) return;
        resync_asked_ = true;
        // Everything queued has been written: where each subscription's client stands.
        std::unordered_map<uint64_t, int64_t> have(written_pos_.begin(), written_pos_.end());
        ctx_->runner->post([id = id_, have = std::move(have)](hub& h) { h.resync(id, have); });
    }

    std::shared_ptr<net_context> ctx_;
    shard& shard_;
    conn_id id_;
    std::mutex inbox_mu_;
    std::vector<queued_frame> inbox_;  // guarded by inbox_mu_
    size_t inbox_patches_ = 0, inbox_bytes_ = 0;  // guarded by inbox_mu_: its patch and message frames
    bool deep_ = false;                           // guarded by inbox_mu_: counted in net_stats::deep_queues
    // Written on our strand (note_depth), read under inbox_mu_ by recount_locked on either.
    std::atomic<size_t> queue_patches_{0}, queue_patch_bytes_{0};
    std::atomic<bool> uncounted_{false};  // resyncing or closed
    std::vector<queued_frame> taken_;  // strand-only: the batch being admitted
    std::deque<queued_frame> queue_;
    size_t in_flight_ = 0;  // frames at the queue's front handed to the current write
    // Per subscription tag, the position of the last snapshot or patch written: a resync asks
    // the hub to catch up from there (hub::resync). A connection holds a few subscriptions, and
    // this is updated for every frame written: a flat list, searched from the front.
    std::vector<std::pair<uint64_t, int64_t>> written_pos_;
    void note_written(uint64_t tag, int64_t pos) {
        for (auto& w : written_pos_)
            if (w.first == tag) {
                w.second = pos;
                return;
            }
        written_pos_.emplace_back(tag, pos);
    }
    size_t queued_bytes_ = 0;
    size_t snapshot_bytes_ = 0;   // of queued_bytes_, in snapshot frames
    size_t snapshot_frames_ = 0;  // of queue_
    size_t allowance_ = 0;        // extra bytes for patches behind a snapshot, until caught up
    static constexpr size_t min_patch_bytes = 64;  // the allowance in frames: a patch frame is larger
    bool writing_ = false;
    bool resyncing_ = false;     // dropping patches until the hub has resent snapshots
    bool resync_asked_ = false;
    bool closed_ = false;
    std::unique_ptr<boost::asio::steady_timer> expiry_;  // strand-only
    uint64_t expiry_generation_ = 0;
    const char* end_why_ = nullptr;  // end_after_drain's reason
};

}  // namespace pglive
