// aggregate.cpp — groups moved by row deltas, their window (order/limit over group entries), and the RFC 6902 ops of each transaction.
#include "hub/aggregate.h"

#include <algorithm>
#include <unordered_set>

#include "core/key.h"
#include "core/patch.h"

namespace pglive {

namespace {
bool matches(const json& row, const row_filter& f) { return !row.is_null() && f.matches(row); }
}  // namespace

aggregate_shape::aggregate_shape(row_filter filter, aggregate_spec spec, std::optional<int64_t> limit)
    : id_(id_of(filter, spec, limit)), filter_(std::move(filter)), spec_(std::move(spec)), limit_(limit) {
    if (spec_.group.empty()) {
        auto& g = groups_.try_emplace("*", group{json::object(), group_acc(spec_), json()}).first->second;
        g.entry = g.acc.entry(spec_, g.values);
    }
}

aggregate_shape::~aggregate_shape() = default;

std::string aggregate_shape::id_of(const row_filter& f, const aggregate_spec& spec, std::optional<int64_t> limit) {
    return "agg|" + f.canonical() + "|" + spec.canonical() + "|" + (limit ? std::to_string(*limit) : "");
}

aggregate_shape::group& aggregate_shape::group_of(const json& row, std::string& key) {
    key = group_key(spec_, row);
    auto it = groups_.find(key);
    if (it == groups_.end()) it = groups_.emplace(key, group{group_values(spec_, row), group_acc(spec_), json()}).first;
    return it->second;
}

// The shown groups' keys in the order (ties by group key), the first n of them.
std::vector<std::string> aggregate_shape::ordered_keys(std::optional<int64_t> n) const {
    std::vector<std::pair<const std::string*, const json*>> cand;
    cand.reserve(groups_.size());
    for (auto& [k, g] : groups_)
        if (shown(g)) cand.emplace_back(&k, &g.entry);
    auto less = [&](const auto& a, const auto& b) { return spec_.order.before(*a.second, *a.first, *b.second, *b.first); };
    size_t take = n ? std::min<size_t>(cand.size(), size_t(*n)) : cand.size();
    std::partial_sort(cand.begin(), cand.begin() + take, cand.end(), less);
    std::vector<std::string> out;
    out.reserve(take);
    for (size_t i = 0; i < take; ++i) out.push_back(*cand[i].first);
    return out;
}

json aggregate_shape::snapshot_rows(const row_map&) const {
    json out = json::object();
    if (limit_) {
        for (auto& k : window_) out[k] = groups_.at(k).entry;
    } else {
        for (auto& [k, g] : groups_)
            if (shown(g)) out[k] = g.entry;
    }
    return out;
}

json aggregate_shape::snapshot_list(const row_map&) const {
    json out = json::array();
    for (auto& k : limit_ ? window_ : ordered_keys(std::nullopt)) out.push_back(groups_.at(k).entry);
    return out;
}

void aggregate_shape::recompute(const row_map& rows) {
    groups_.clear();
    if (spec_.group.empty()) groups_.try_emplace("*", group{json::object(), group_acc(spec_), json()});
    std::string key;
    for (auto& [k, row] : rows)
        if (filter_.matches(row)) group_of(row, key).acc.add(spec_, row);
    rerender();
}

void aggregate_shape::rerender() {
    for (auto it = groups_.begin(); it != groups_.end();) {
        group& g = it->second;
        if (!shown(g)) {
            it = groups_.erase(it);
            continue;
        }
        g.entry = g.acc.entry(spec_, g.values);
        ++it;
    }
    if (limit_) window_ = ordered_keys(limit_);
}

std::optional<std::vector<json>> aggregate_shape::replay(const history_ring& history, int64_t since) const {
    aggregate_shape past = *this;
    std::string key;
    for (auto tx = history.rbegin(); tx != history.rend() && (*tx)->position > since; ++tx)
        for (auto d = (*tx)->rows.rbegin(); d != (*tx)->rows.rend(); ++d) {
            if (matches(d->after, filter_)) past.group_of(d->after, key).acc.remove(spec_, d->after);
            if (matches(d->before, filter_)) past.group_of(d->before, key).acc.add(spec_, d->before);
        }
    past.rerender();
    std::vector<json> out;
    static const row_map no_rows;
    for (auto& tx : history)
        if (tx->position > since) out.push_back(past.live_ops(no_rows, *tx));
    return out;
}

json aggregate_shape::live_ops(const row_map&, const topic_tx& tx) {
    json ops = json::array();
    std::vector<std::string> touched;
    std::unordered_set<std::string> seen;
    std::string key;
    for (auto& d : tx.rows) {
        if (matches(d.before, filter_)) {
            group_of(d.before, key).acc.remove(spec_, d.before);
            if (seen.insert(key).second) touched.push_back(key);
        }
        if (matches(d.after, filter_)) {
            group_of(d.after, key).acc.add(spec_, d.after);
            if (seen.insert(key).second) touched.push_back(key);
        }
    }
    if (touched.empty()) return ops;
    // Each touched group's entry now, against the one last shown (null: not shown).
    std::unordered_map<std::string, json> before;
    for (auto& k : touched) {
        group& g = groups_.at(k);
        json now = shown(g) ? g.acc.entry(spec_, g.values) : json();
        if (limit_) before.emplace(k, g.entry);
        else append_row_ops(ops, k, g.entry, k, now);
        g.entry = std::move(now);
    }
    if (!limit_) {
        for (auto& k : touched)
            if (!shown(groups_.at(k))) groups_.erase(k);
        return ops;
    }
    // A window: its keys again, diffed: groups leaving `remove`, entering `add` (whole entry),
    // staying ones get the replaces of their fields that changed.
    std::vector<std::string> old_window = std::move(window_);
    window_ = ordered_keys(limit_);
    std::unordered_set<std::string> was(old_window.begin(), old_window.end());
    std::unordered_set<std::string> now(window_.begin(), window_.end());
    for (auto& k : old_window)
        if (!now.count(k)) ops.push_back(json{{"op", "remove"}, {"path", "/" + pointer_escape(k)}});
    for (auto& k : window_) {
        if (!was.count(k)) ops.push_back(json{{"op", "add"}, {"path", "/" + pointer_escape(k)}, {"value", groups_.at(k).entry}});
        else if (auto b = before.find(k); b != before.end()) append_row_ops(ops, k, b->second, k, groups_.at(k).entry);
    }
    for (auto& k : touched)
        if (!shown(groups_.at(k))) groups_.erase(k);
    return ops;
}

}  // namespace pglive
