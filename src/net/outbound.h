// outbound.h — a connection's bounded send queue: one write in flight, overflow → resync.
//
// Shared by the WebSocket and SSE sessions (CRTP: Derived provides executor(), write_frame(),
// on_overflow_log() and is enable_shared_from_this). All members are strand-only.
#pragma once

#include <deque>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/beast/core/error.hpp>

#include "core/log.h"
#include "hub/client.h"
#include "net/server.h"

namespace pglive {

template <class Derived>
class outbound : public client {
public:
    outbound(std::shared_ptr<net_context> ctx, conn_id id) : ctx_(std::move(ctx)), id_(id) {}

    // From the hub's strand: hop to ours.
    void send(frame f, frame_kind kind) override {
        boost::asio::post(self().executor(), [s = self().shared_from_this(), f = std::move(f), kind]() mutable {
            s->enqueue(std::move(f), kind);
        });
    }
    void resynced() override {
        boost::asio::post(self().executor(), [s = self().shared_from_this()] {
            s->resyncing_ = false;
            s->resync_asked_ = false;
        });
    }

protected:
    Derived& self() { return static_cast<Derived&>(*this); }

    // The bound protects memory from a stalled reader; replies and snapshots always pass
    // (a snapshot is what ends a resync), patches and messages past it start a resync.
    void enqueue(frame f, frame_kind kind) {
        if (closed_) return;
        bool droppable = kind == frame_kind::patch || kind == frame_kind::message;
        if (droppable) {
            if (resyncing_) {
                ++ctx_->stats.frames_dropped;
                return;
            }
            if (queue_.size() >= ctx_->opt.max_queue_frames || queued_bytes_ + f->size() > ctx_->opt.max_queue_bytes) {
                overflow();
                ++ctx_->stats.frames_dropped;
                return;
            }
        }
        queued_bytes_ += f->size();
        queue_.emplace_back(std::move(f), kind);
        if (!writing_) write_next();
    }

    void overflow() {
        ++ctx_->stats.queue_overflows;
        resyncing_ = true;
        size_t dropped = 0;
        std::deque<std::pair<frame, frame_kind>> keep;
        for (size_t i = 0; i < queue_.size(); ++i) {
            auto& item = queue_[i];
            bool in_flight = writing_ && i == 0;
            if (in_flight || item.second == frame_kind::reply || item.second == frame_kind::snapshot) {
                keep.push_back(std::move(item));
            } else {
                queued_bytes_ -= item.first->size();
                ++dropped;
            }
        }
        queue_ = std::move(keep);
        ctx_->stats.frames_dropped += dropped;
        log_warn("conn " + std::to_string(id_) + ": send queue over its bound (max_queue_frames " +
                 std::to_string(ctx_->opt.max_queue_frames) + ", max_queue_bytes " +
                 std::to_string(ctx_->opt.max_queue_bytes) + "): dropped " + std::to_string(dropped) +
                 " pending patches; a fresh snapshot follows once it drains");
        maybe_ask_resync();
    }

    void write_next() {
        writing_ = true;
        self().write_frame(*queue_.front().first,
                           [s = self().shared_from_this()](boost::beast::error_code ec, size_t n) { s->on_write(ec, n); });
    }

    void on_write(boost::beast::error_code ec, size_t n) {
        writing_ = false;
        if (ec) {
            self().fail(ec, "write");
            return;
        }
        ++ctx_->stats.frames_sent;
        ctx_->stats.bytes_sent += n;
        queued_bytes_ -= queue_.front().first->size();
        queue_.pop_front();
        if (!queue_.empty()) write_next();
        else maybe_ask_resync();
    }

    void maybe_ask_resync() {
        if (!resyncing_ || resync_asked_ || writing_ || !queue_.empty()) return;
        resync_asked_ = true;
        ctx_->runner->post([id = id_](hub& h) { h.resync(id); });
    }

    std::shared_ptr<net_context> ctx_;
    conn_id id_;
    std::deque<std::pair<frame, frame_kind>> queue_;
    size_t queued_bytes_ = 0;
    bool writing_ = false;
    bool resyncing_ = false;     // dropping patches until the hub has resent snapshots
    bool resync_asked_ = false;
    bool closed_ = false;
};

}  // namespace pglive
