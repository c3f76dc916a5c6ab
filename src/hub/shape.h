// shape.h — a subscription shape (filter, order, limit), its window, and the ops a delta set means for it.
//
// Subscriptions with the same topic, filter, order and limit share a shape; the hub asks it
// for the operations of a transaction once and hands them to every subscriber.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/filter.h"
#include "hub/shape_view.h"
#include "hub/table_state.h"

namespace pglive {

class shape final : public shape_view {
public:
    shape(row_filter filter, row_order order, std::optional<int64_t> limit);
    // Out of line: with an inline one, g++ 12 may put the deleting destructor in a comdat group
    // that the linker discards, leaving a null vtable slot (a crash at `delete`).
    ~shape() override;

    // The key shapes are shared by: equal filters, orders and limits give equal ids.
    static std::string id_of(const row_filter& f, const row_order& o, std::optional<int64_t> limit);
    const std::string& id() const override { return id_; }
    const row_filter& filter() const { return filter_; }
    bool windowed() const { return limit_.has_value(); }

    // The rows a snapshot of this shape shows, keyed.
    json snapshot_rows(const row_map& rows) const override;
    // The same rows as an array in the shape's order (the window's, or all matching rows sorted
    // by the order with ties by key, as windows are): typed as PostgreSQL compares the columns.
    json snapshot_list(const row_map& rows) const override;
    // The window's keys again (top `limit` of the matching rows in order); no-op without one.
    void recompute_window(const row_map& rows);
    void recompute(const row_map& rows) override { recompute_window(rows); }
    // Live: the ops of one applied transaction, `rows` being the state after it; moves the
    // window. Empty when the shape's view did not change.
    json live_ops(const row_map& rows, const topic_tx& tx) override;
    // The ops from the deltas alone, through the filter: resume, where a window's state at
    // `since` is not known (windowed subscriptions get a snapshot instead).
    static json delta_ops(const topic_tx& tx, const row_filter& f);
    bool resumes_from_deltas() const override { return !windowed(); }
    json resume_ops(const topic_tx& tx) const override { return delta_ops(tx, filter_); }

private:
    std::string id_;
    row_filter filter_;
    row_order order_;
    std::optional<int64_t> limit_;
    std::vector<std::string> window_;  // keys in order, when limit is set
};

}  // namespace pglive
