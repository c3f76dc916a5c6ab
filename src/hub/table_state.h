// table_state.h — one topic's table image: rows, transactions applied as per-row deltas, the load hand-off buffer, the history ring.
//
// Pure: no strand, no socket, no database. The hub owns one per topic and decides when to
// load, apply or replay; this type holds what the table looks like and what changed.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/change.h"
#include "core/topic.h"

namespace pglive {

// One row's net change in one transaction: its state before and after (null = absent).
struct row_delta {
    std::string key;
    json before;
    json after;
};

// A transaction as one topic saw it: net row deltas in first-touch order, or messages.
struct topic_tx {
    int64_t position = 0;
    std::string ts;
    int64_t ts_us = 0;  // transaction::ts_us
    std::vector<row_delta> rows;
    std::vector<json> messages;
    bool truncated = false;
};

using row_map = std::unordered_map<std::string, json>;  // key → row (exposed columns)

// One transaction's net row deltas for `info`'s topic from the outbox's row images alone (no
// state needed): used where the state does not hold the transaction's "before" — resume from
// the outbox, and transactions that a load's rows already contain. A TRUNCATE sets
// `truncated`: the rows it removed are not in the outbox.
topic_tx image_tx(const transaction& tx, const topic_info& info);

class table_state {
public:
    enum class status { unloaded, loading, loaded };

    topic_info info;
    status st = status::unloaded;
    row_map rows;
    int64_t position = 0;  // rows = every transaction <= position
    // Loading: the load answer, and transactions received since the load was asked for.
    std::optional<topic_load> load;
    std::vector<transaction> pending;
    // Resume history: every transaction touching the topic with position > history_floor.
    std::deque<std::shared_ptr<const topic_tx>> history;
    int64_t history_floor = 0;

    // Applies one transaction's changes for this topic to the rows; returns the net deltas.
    std::shared_ptr<topic_tx> apply(const transaction& tx);
    // Into the history ring (at most `limit` transactions; the floor moves up behind them).
    void remember(std::shared_ptr<const topic_tx> tx, size_t limit);
    // Every transaction after `after` up to `position`, merged into one: each row's state before
    // the first and after the last (rows back where they were say nothing), in first-touch
    // order; position and ts are the last one's. Nullopt when history does not reach back to
    // `after`, or a TRUNCATE is among them (the rows it removed are not in the deltas).
    std::optional<topic_tx> merged_after(int64_t after) const;
    // A loaded topic takes one transaction: rows and history. Null when it said nothing.
    std::shared_ptr<const topic_tx> take(const transaction& tx, size_t history_limit);
    // The load has answered and the stream has reached its label (docs/DESIGN.md, "Snapshot
    // hand-off"): the rows become the load's, the buffered transactions after its read are
    // replayed, and the position is at least `stream_position`.
    // False when a buffered transaction the rows miss holds a change of this topic that could
    // not be decoded (transaction::undecodable): the rows lack it, so the topic must be read again.
    bool finish_load(int64_t stream_position, size_t history_limit);
    // Forgets the rows and history (unloaded, or detached).
    void drop();
};

}  // namespace pglive
