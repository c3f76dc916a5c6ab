// aggregate.h — an aggregate shape (PROTOCOL §5): the filtered rows grouped, live aggregates per group, a window over groups, and their ops.
//
// Subscriptions with the same topic, filter, group, aggregates, order and limit share one; the
// hub asks it, like a row shape, for a snapshot and for the ops of each transaction. The state
// is an object keyed by group key; each entry holds the group columns and one field per
// aggregate. A group's first row entering is `add /<group>`, its last leaving `remove`, a
// changed aggregate `replace /<group>/<field>`. Without `group` the single entry `*` is always
// there (as SQL's aggregate without GROUP BY gives one row, count 0, sums NULL).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/aggregate_spec.h"
#include "hub/group_acc.h"
#include "hub/shape_view.h"

namespace pglive {

class aggregate_shape final : public shape_view {
public:
    aggregate_shape(row_filter filter, aggregate_spec spec, std::optional<int64_t> limit);
    ~aggregate_shape() override;  // out of line, as shape's (shape.h)

    static std::string id_of(const row_filter& f, const aggregate_spec& spec, std::optional<int64_t> limit);
    const std::string& id() const override { return id_; }
    const aggregate_spec& spec() const { return spec_; }
    bool windowed() const { return limit_.has_value(); }

    json snapshot_rows(const row_map& rows) const override;
    json snapshot_list(const row_map& rows) const override;
    // Every group again from the rows that match the filter.
    void recompute(const row_map& rows) override;
    // A touched row that matched before leaves its group, one that matches after enters its
    // group; each touched group's entry is diffed against the one last shown.
    json live_ops(const row_map& rows, const topic_tx& tx) override;
    // The ops alone say nothing without the group state: a resume replays (below) from memory,
    // and gets a fresh snapshot beyond it.
    bool resumes_from_deltas() const override { return false; }
    json resume_ops(const topic_tx&) const override { return json::array(); }
    // A copy of the groups rolled back through `history` to `since`, then moved forward again
    // transaction by transaction: each one's ops, as live subscribers got them.
    std::optional<std::vector<json>> replay(const history_ring& history, int64_t since) const override;
    const std::vector<std::string>* entry_key() const override { return &spec_.group; }
    const std::vector<std::string>* entry_columns() const override { return &spec_.fields; }

private:
    struct group {
        json values;  // the group columns
        group_acc acc;
        json entry;   // as last shown (null: not shown)
    };
    std::string id_;
    row_filter filter_;
    aggregate_spec spec_;
    std::optional<int64_t> limit_;
    std::unordered_map<std::string, group> groups_;  // by group key
    std::vector<std::string> window_;                // group keys in order, when limit is set

    group& group_of(const json& row, std::string& key);
    void rerender();  // every entry and the window again from the accumulators
    bool shown(const group& g) const { return g.acc.rows() > 0 || spec_.group.empty(); }
    std::vector<std::string> ordered_keys(std::optional<int64_t> n) const;
};

}  // namespace pglive
