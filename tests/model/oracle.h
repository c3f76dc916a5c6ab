// oracle.h — what a subscription must show at a position, rebuilt from the test's own audit.
//
// The oracle never reads pglive's capture (pglive.outbox): a row-level AFTER trigger of the
// test (schema model_audit) writes every row change, typed, with pg_current_xact_id() and a
// statement number. pglive's position → xid mapping (copied from pglive.tx by a trigger, so
// retention cannot take it away) is the only thing taken from pglive: it is the contract's
// definition of order. The state at position P is the replay of the audit rows of the
// transactions at positions <= P; a subscription's view is its filter, window and exposed
// columns evaluated on that state with PostgreSQL's comparison rules (values.h), and checked
// once against SQL on the live table at the end (self_check).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "model/values.h"

namespace pglive::model {

// The test's audit schema and triggers on public.mt and public.st, and the copy of pglive.tx.
// Run after pglive's schema is installed and the tables exist.
std::string audit_schema_sql();

struct condition {
    int col = 0;
    std::string op;                     // eq neq lt lte gt gte in is
    std::vector<std::string> literals;  // as written in the filter
    std::vector<std::string> canon;     // PostgreSQL's canonical text of each literal
    bool policy = false;                // the table's row policy resolved for the spec's tenant: not sent
};

struct order_term {
    int col = 0;
    bool desc = false;
    bool nulls_first = false;
};

// One aggregate of an aggregate subscription: count (col -1), count:COL, sum:COL, min:COL, max:COL.
struct agg_term {
    std::string fn;
    int col = -1;
};

// One subscription's query: the table, a filter (ANDed), an optional window; or (agg) the
// filtered rows grouped by `group` with `aggs` (aggregates.h; no window).
struct spec {
    int id = 0;
    int table = MT;
    std::vector<condition> conds;
    int limit = 0;  // 0: no window
    std::vector<order_term> order;
    bool agg = false;
    std::vector<int> group;  // column indexes
    std::vector<agg_term> aggs;
    json group_json() const;       // aggregates: the "group" and "aggregate" arrays
    json aggregate_json() const;
    // policies: the tenant claim of the token the spec subscribes with (a `policy` condition
    // holds it), or admin (sees every row); neither for tables without a policy.
    std::string tenant;
    bool admin = false;
    json filter_json() const;      // the "filter" array of the subscribe message (policy conditions left out)
    std::string order_text() const;  // the "order" field
    std::string describe() const;
    std::string sql() const;  // the same query on the live table: the keys it selects, in order
};

using row_ptr = std::shared_ptr<const row>;
using table_state = std::map<std::string, row_ptr>;  // row key → row

// The rows a subscription may show. Without a window: exactly `must`. With one: every row of
// `must` (strictly inside the window) and `tie_need` of the rows of `tie` (the rows equal, in
// the window's order, to its last row: SQL leaves their choice open).
struct view {
    std::map<std::string, row_ptr> must, tie;
    size_t tie_need = 0;
    // An aggregate spec: the groups (aggregates.h expected_groups); `must` holds their keys only.
    json groups;
    bool same_as(const view& o, int table) const;
};

// Does the row pass the spec's filter?
bool matches(const spec& s, const row& r);
view evaluate(const spec& s, const table_state& state);
// Is the client's state (tagged JSON: key → row) one the view allows? `diff` says why not.
bool allowed(const spec& s, const view& v, const json& state, std::string* diff);
std::string show_view(const spec& s, const view& v, size_t max_rows = 12);

struct event {
    int64_t pos = 0;
    int64_t stmt = 0;
    int64_t aseq = 0;
    int table = MT;
    char op = 'I';  // I U D T
    std::shared_ptr<const row> oldr, newr;
};

struct history {
    std::vector<int64_t> positions;           // every position pglive gave, ascending
    std::map<int64_t, std::string> xid_of;    // position → xid
    std::map<int64_t, std::vector<size_t>> events_at;  // position → indexes into events
    std::vector<event> events;                // in replay order
    std::vector<std::string> unpositioned;    // xids with audit rows but no position
    // Lost ranges (durable_before, base) of pglive.epochs: positions a crash took back (the
    // sequencer commits asynchronously); a client may have got them, then must get a snapshot.
    std::vector<std::pair<int64_t, int64_t>> lost;
    bool is_lost(int64_t p) const {
        for (auto& [d, b] : lost)
            if (d < p && p < b) return true;
        return false;
    }
    int64_t last() const { return positions.empty() ? 0 : positions.back(); }
};

history load_history(pqxx::connection_base& conn);
// Transactions whose audit rows exist but that pglive has not given a position yet.
int64_t unpositioned_count(pqxx::connection_base& conn);

// Replays a history position by position.
class replay {
public:
    explicit replay(const history& h) : h_(h) {}
    // Applies the transaction at `pos`; returns the tables it touched (bit 1 << table).
    unsigned apply(int64_t pos);
    const table_state& state(int table) const { return state_[size_t(table)]; }

private:
    const history& h_;
    table_state state_[2];
};

// The live table's rows, read with the same canonical text.
table_state read_table(pqxx::connection_base& conn, int table);
std::string diff_states(int table, const table_state& expected, const table_state& actual, size_t max = 8);

}  // namespace pglive::model
