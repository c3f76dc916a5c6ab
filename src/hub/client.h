// client.h — how the hub reaches one connection (WebSocket, SSE, a long-poll or REST request) without knowing sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/frame.h"

namespace pglive {

using conn_id = uint64_t;

// A snapshot's or patch's place in the stream: its position, and a live patch's commit time
// (µs since the epoch); 0: none.
struct frame_stamp {
    int64_t pos = 0;
    int64_t commit_us = 0;
};

enum class frame_kind { reply, snapshot, patch, message };
// How a connection's frames look (hub/encoder.cpp builds them). sse: whole "event:/id:/data:"
// records; poll: the parts of a long-poll or REST answer, each under a one-line header (encoder.h).
enum class wire_format { json, sse, poll };
inline constexpr size_t wire_format_count = 3;

class client {
public:
    virtual ~client() = default;
    // Called on the hub's strand; never blocks: a connection queues (bounded) or drops.
    // A connection whose queue overflowed drops `patch` and `message` frames until it has
    // drained, then asks the hub to resync (hub::resync), and accepts them again once
    // resynced() is called; `reply` and `snapshot` frames are always queued.
    // `tag` names the subscription a snapshot or patch belongs to (0: none); `stamp` says where
    // it stands in the stream (resync asks for a catch-up from there) and when a live patch's
    // transaction committed (the `written` stage timing).
    virtual void send(frame f, frame_kind kind, uint64_t tag = 0, frame_stamp stamp = {}) = 0;
    virtual void resynced() = 0;
    // The subscription `tag` was replaced or ended: its snapshots and patches still queued
    // (not being written) are dropped, so re-subscribing without reading costs one snapshot,
    // not one per request. Ordered with the frames sent before it.
    virtual void supersede(uint64_t tag) {}
    virtual wire_format format() const { return wire_format::json; }
};

}  // namespace pglive
