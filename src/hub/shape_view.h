// shape_view.h — what the hub asks of a shared computation: a row shape (shape.h) or an aggregate shape (aggregate.h).
//
// Subscriptions with equal ids share one view; the hub asks it for a snapshot, for the ops of
// each applied transaction (once, for every subscriber), and whether a `since` can be answered
// by replaying deltas. Fan-out, encoding and the transports do not know which kind it is.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hub/table_state.h"

namespace pglive {

class shape_view {
public:
    virtual ~shape_view();
    // Equal ids: the same computation (topic-local).
    virtual const std::string& id() const = 0;
    // The state a snapshot shows, keyed (row key → row, or group key → entry).
    virtual json snapshot_rows(const row_map& rows) const = 0;
    // The same entries as an array in the view's order (REST form=list).
    virtual json snapshot_list(const row_map& rows) const = 0;
    // Rebuilds whatever the view keeps from the topic's rows (after a load, or when created).
    virtual void recompute(const row_map& rows) = 0;
    // Live: the ops of one applied transaction, `rows` being the state after it. Empty when the
    // view did not change.
    virtual json live_ops(const row_map& rows, const topic_tx& tx) = 0;
    // True when a `since` can be answered with resume_ops of the transactions after it (no state
    // at `since` is needed); else a resume gets a fresh snapshot.
    virtual bool resumes_from_deltas() const = 0;
    virtual json resume_ops(const topic_tx& tx) const = 0;
    // A view that does not resume from deltas alone may still resume from memory: the ops of
    // each transaction of `history` after `since` (one entry each, in order), from its state
    // rolled back to `since` through the history's before/after images. nullopt: it cannot.
    using history_ring = std::deque<std::shared_ptr<const topic_tx>>;
    virtual std::optional<std::vector<json>> replay(const history_ring& /*history*/, int64_t /*since*/) const {
        return std::nullopt;
    }
    // The `subscribed` reply's key and columns when they are not the table's (aggregates: the
    // group columns, and the group columns with the aggregate names); null: the table's.
    virtual const std::vector<std::string>* entry_key() const { return nullptr; }
    virtual const std::vector<std::string>* entry_columns() const { return nullptr; }
};

}  // namespace pglive
