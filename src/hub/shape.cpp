// shape.cpp — filtered views and top-N windows, and the RFC 6902 ops that move them.
#include "hub/shape.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "core/key.h"
#include "core/patch.h"

namespace pglive {

namespace {

json visible(const json& row, const row_filter& f) { return (!row.is_null() && f.matches(row)) ? row : json(); }

}  // namespace

shape::shape(row_filter filter, row_order order, std::optional<int64_t> limit)
    : id_(id_of(filter, order, limit)), filter_(std::move(filter)), order_(std::move(order)), limit_(limit) {}

shape_view::~shape_view() = default;
shape::~shape() = default;

std::string shape::id_of(const row_filter& f, const row_order& o, std::optional<int64_t> limit) {
    return f.canonical() + "|" + o.canonical() + "|" + (limit ? std::to_string(*limit) : "");
}

json shape::snapshot_rows(const row_map& rows) const {
    json out = json::object();
    if (limit_) {
        for (auto& k : window_)
            if (auto it = rows.find(k); it != rows.end()) out[k] = it->second;
    } else {
        for (auto& [k, row] : rows)
            if (filter_.matches(row)) out[k] = row;
    }
    return out;
}

json shape::snapshot_list(const row_map& rows) const {
    json out = json::array();
    if (limit_) {
        for (auto& k : window_)
            if (auto it = rows.find(k); it != rows.end()) out.push_back(it->second);
        return out;
    }
    std::vector<std::pair<const std::string*, const json*>> matching;
    for (auto& [k, row] : rows)
        if (filter_.matches(row)) matching.emplace_back(&k, &row);
    std::sort(matching.begin(), matching.end(),
              [&](const auto& a, const auto& b) { return order_.before(*a.second, *a.first, *b.second, *b.first); });
    for (auto& [k, row] : matching) out.push_back(*row);
    return out;
}

void shape::recompute_window(const row_map& rows) {
    if (!limit_) return;
    std::vector<std::pair<const std::string*, const json*>> cand;
    for (auto& [k, row] : rows)
        if (filter_.matches(row)) cand.emplace_back(&k, &row);
    size_t n = std::min<size_t>(cand.size(), size_t(*limit_));
    auto less = [&](const auto& a, const auto& b) { return order_.before(*a.second, *a.first, *b.second, *b.first); };
    std::partial_sort(cand.begin(), cand.begin() + n, cand.end(), less);
    window_.clear();
    for (size_t i = 0; i < n; ++i) window_.push_back(*cand[i].first);
}

json shape::delta_ops(const topic_tx& tx, const row_filter& f) {
    json ops = json::array();
    for (auto& d : tx.rows) append_row_ops(ops, d.key, visible(d.before, f), d.key, visible(d.after, f));
    return ops;
}

// No window: each row's move through the filter. A window: its keys are recomputed only when
// a touched row matched before or after, and diffed: evicted rows `remove`, entering rows
// `add` (backfill after a delete), rows that stay get per-column `replace`.
json shape::live_ops(const row_map& rows, const topic_tx& tx) {
    if (!limit_) return delta_ops(tx, filter_);
    json ops = json::array();
    bool relevant = false;
    for (auto& d : tx.rows)
        if ((!d.before.is_null() && filter_.matches(d.before)) || (!d.after.is_null() && filter_.matches(d.after)))
            relevant = true;
    if (!relevant) return ops;
    std::vector<std::string> old_window = std::move(window_);
    recompute_window(rows);
    std::unordered_set<std::string> was(old_window.begin(), old_window.end());
    std::unordered_set<std::string> now(window_.begin(), window_.end());
    std::unordered_map<std::string, const row_delta*> delta;
    for (auto& d : tx.rows) delta.emplace(d.key, &d);
    for (auto& k : old_window)
        if (!now.count(k)) ops.push_back(json{{"op", "remove"}, {"path", "/" + pointer_escape(k)}});
    for (auto& k : window_) {
        if (!was.count(k)) {
            ops.push_back(json{{"op", "add"}, {"path", "/" + pointer_escape(k)}, {"value", rows.at(k)}});
        } else if (auto d = delta.find(k); d != delta.end()) {
            append_row_ops(ops, k, d->second->before, k, d->second->after);
        }
    }
    return ops;
}

}  // namespace pglive
