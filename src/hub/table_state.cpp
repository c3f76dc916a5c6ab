// table_state.cpp — row changes into the table image and per-row deltas: the one op switch.
#include "hub/table_state.h"

#include <algorithm>

#include "core/exact_json.h"
#include "core/filter.h"
#include "core/key.h"

namespace pglive {

namespace {

// Collects a transaction's net deltas, one per key in first-touch order.
struct delta_builder {
    std::shared_ptr<topic_tx> out = std::make_shared<topic_tx>();
    std::unordered_map<std::string, size_t> index;  // key → out->rows slot

    explicit delta_builder(const transaction& tx) {
        out->position = tx.position;
        out->ts = tx.ts;
        out->ts_us = tx.ts_us;
    }
    // The key's delta; `before` is recorded when the key is first touched.
    row_delta& touch(const std::string& key, const json& before) {
        auto [it, fresh] = index.try_emplace(key, out->rows.size());
        if (fresh) out->rows.push_back(row_delta{key, before, json()});
        return out->rows[it->second];
    }
    // A row written and then deleted in one transaction leaves nothing to say.
    std::shared_ptr<topic_tx> finish() {
        auto& r = out->rows;
        r.erase(std::remove_if(r.begin(), r.end(), [](const row_delta& d) { return d.before == d.after; }), r.end());
        return std::move(out);
    }
};

// The topic's json/jsonb columns (by their types), whose SQL NULLs row images leave out.
std::vector<std::string> json_columns(const topic_info& info) {
    std::vector<std::string> out;
    for (size_t i = 0; i < info.columns.size() && i < info.types.size(); ++i)
        if (is_json_type(info.types[i])) out.push_back(info.columns[i]);
    return out;
}

// Where row images become the table's rows: the SQL NULL json/jsonb columns that the capture
// and loads left out are put back as sql_null() (core/exact_json.h). Without such columns the
// change is used as it is.
const change& with_sql_nulls(const change& ch, const std::vector<std::string>& json_cols, change& scratch) {
    if (json_cols.empty()) return ch;
    scratch = ch;
    restore_sql_nulls(scratch.old_row, json_cols);
    restore_sql_nulls(scratch.new_row, json_cols);
    return scratch;
}

// The one place a transaction's row changes are read (capture/outbox.cpp has paired them, one
// change per row): apply and image_tx both see them through here, so an op means the same to
// both. The visitor gets remove(key, old_row), put(key, old_row or null, new_row), truncate(),
// message(data); an update that changes the key is remove + put.
template <class Visitor>
void for_each_row_change(const transaction& tx, const topic_info& info, Visitor&& v) {
    const std::vector<std::string> json_cols = json_columns(info);
    change scratch;
    for (auto& raw : tx.changes) {
        if (raw.topic != info.topic) continue;
        const change& ch = with_sql_nulls(raw, json_cols, scratch);
        switch (ch.op) {
        case op_kind::insert:
            v.put(row_key(ch.new_row, info.key), json(), ch.new_row);
            break;
        case op_kind::update: {
            std::string ko = row_key(ch.old_row, info.key), kn = row_key(ch.new_row, info.key);
            if (ko != kn) {
                v.remove(ko, ch.old_row);
                v.put(kn, json(), ch.new_row);
            } else {
                v.put(kn, ch.old_row, ch.new_row);
            }
            break;
        }
        case op_kind::remove:
            v.remove(row_key(ch.old_row, info.key), ch.old_row);
            break;
        case op_kind::truncate:
            v.truncate();
            break;
        case op_kind::message:
            v.message(ch.new_row);
            break;
        case op_kind::control:
            break;
        }
    }
}

const json& row_or_null(const row_map& rows, const std::string& key) {
    static const json null;
    auto it = rows.find(key);
    return it == rows.end() ? null : it->second;
}

}  // namespace

topic_tx image_tx(const transaction& tx, const topic_info& info) {
    // Before and after come from the images themselves.
    struct images {
        delta_builder b;
        void put(const std::string& k, const json& old_row, const json& new_row) { b.touch(k, old_row).after = new_row; }
        void remove(const std::string& k, const json& old_row) { b.touch(k, old_row).after = json(); }
        void truncate() { b.out->truncated = true; }
        void message(const json& data) { b.out->messages.push_back(data); }
    } v{delta_builder(tx)};
    for_each_row_change(tx, info, v);
    return std::move(*v.b.finish());
}

std::shared_ptr<topic_tx> table_state::apply(const transaction& tx) {
    // Before comes from the rows; after is read back once every change is in.
    struct state {
        delta_builder b;
        row_map& rows;
        void put(const std::string& k, const json&, const json& new_row) {
            b.touch(k, row_or_null(rows, k));
            rows[k] = new_row;
        }
        void remove(const std::string& k, const json&) {
            b.touch(k, row_or_null(rows, k));
            rows.erase(k);
        }
        void truncate() {
            for (auto& [k, row] : rows) b.touch(k, row);
            rows.clear();
            b.out->truncated = true;
        }
        void message(const json& data) { b.out->messages.push_back(data); }
    } v{delta_builder(tx), rows};
    for_each_row_change(tx, info, v);
    for (auto& d : v.b.out->rows) d.after = row_or_null(rows, d.key);
    position = tx.position;
    return v.b.finish();
}

void table_state::remember(std::shared_ptr<const topic_tx> tx, size_t limit) {
    history.push_back(std::move(tx));
    while (history.size() > limit) {
        history_floor = history.front()->position;
        history.pop_front();
    }
}

std::optional<topic_tx> table_state::merged_after(int64_t after) const {
    if (after < history_floor) return std::nullopt;
    topic_tx out;
    out.position = after;
    std::unordered_map<std::string, size_t> at;  // key → its index in out.rows
    for (auto& tx : history) {
        if (tx->position <= after) continue;
        if (tx->truncated) return std::nullopt;
        out.position = tx->position;
        out.ts = tx->ts;
        out.ts_us = tx->ts_us;
        for (auto& d : tx->rows) {
            auto [it, fresh] = at.emplace(d.key, out.rows.size());
            if (fresh) out.rows.push_back(d);
            else out.rows[it->second].after = d.after;
        }
    }
    std::erase_if(out.rows, [](const row_delta& d) { return d.before == d.after; });
    return out;
}

std::shared_ptr<const topic_tx> table_state::take(const transaction& tx, size_t history_limit) {
    auto applied = apply(tx);
    if (applied->rows.empty() && applied->messages.empty()) return nullptr;
    remember(applied, history_limit);
    return applied;
}

// The buffered transactions after P_rr are replayed in order: one whose xid the load's
// snapshot saw (at or below P*) is already in the rows and only goes into history, any other
// is applied. Subscribers have no snapshot yet, so only the rows and history move.
bool table_state::finish_load(int64_t stream_position, size_t history_limit) {
    topic_load& ld = *load;
    rows.clear();
    const std::vector<std::string> json_cols = json_columns(info);
    for (auto& row : ld.rows) {
        restore_sql_nulls(row, json_cols);
        rows.emplace(row_key(row, info.key), std::move(row));
    }
    position = ld.read_position;
    history.clear();
    history_floor = ld.read_position;  // history holds every transaction after P_rr
    st = status::loaded;
    const pg_snapshot snap = ld.snapshot;
    const int64_t read_at = ld.read_position, label = ld.position;
    std::vector<transaction> buffered = std::move(pending);
    pending.clear();
    load.reset();
    bool stale = false;
    for (auto& tx : buffered) {
        if (tx.position <= read_at) continue;  // in the rows, and below history's floor
        if (tx.position <= label && snap.visible(tx.xid)) {
            // In the rows already; a client resuming from before it still needs its patch.
            auto seen = std::make_shared<topic_tx>(image_tx(tx, info));
            if (seen->truncated) {  // the rows it removed are unknown: resume across it resyncs
                history.clear();
                history_floor = tx.position;
            } else if (!seen->rows.empty() || !seen->messages.empty()) {
                remember(std::move(seen), history_limit);
            }
            position = tx.position;
            continue;
        }
        if (std::find(tx.undecodable.begin(), tx.undecodable.end(), info.topic) != tx.undecodable.end()) stale = true;
        take(tx, history_limit);
    }
    position = std::max(position, stream_position);
    return !stale;
}

void table_state::drop() {
    rows.clear();
    history.clear();
}

}  // namespace pglive
