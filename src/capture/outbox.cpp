// outbox.cpp — outbox queries and the decoding of statement rows into per-row changes.
#include "capture/outbox.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "core/exact_json.h"
#include "core/log.h"

namespace pglive {

const char* const outbox_select_list =
    "t.position, t.xid::text, to_char(t.ts at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "o.topic, o.op::text, o.old_rows::text, o.new_rows::text, "
    "case when o.op = 'U' then (select to_jsonb(c.key)::text from pglive.tables c where c.topic = o.topic) end";

namespace {

json parse_field(const pqxx::field& f) {
    if (f.is_null()) return nullptr;
    return parse_exact(std::string_view(f.c_str(), f.size()));  // numbers keep PostgreSQL's literal
}

json key_of(const json& row, const json& key) {
    json k = json::array();
    for (const auto& col : key) {
        auto it = row.find(col.get<std::string>());
        k.push_back(it == row.end() ? json() : *it);
    }
    return k;
}

void decode_update(const std::string& topic, const json& old_rows, const json& new_rows, const json& key,
                   std::vector<change>& out) {
    auto emit = [&](op_kind op, const json& o, const json& n) {
        if (op == op_kind::update && o == n) return;  // only hidden columns changed
        change c;
        c.topic = topic;
        c.op = op;
        c.old_row = o;
        c.new_row = n;
        out.push_back(std::move(c));
    };
    if (!old_rows.is_array() || !new_rows.is_array()) return;
    if (!key.is_array() || key.empty()) {
        // Table detached since: no key to pair by. Transition tables list a statement's old
        // and new rows in the same order, so pair by index.
        for (size_t i = 0; i < old_rows.size() && i < new_rows.size(); ++i) emit(op_kind::update, old_rows[i], new_rows[i]);
        return;
    }
    std::map<json, size_t> new_by_key;
    for (size_t i = 0; i < new_rows.size(); ++i) new_by_key.emplace(key_of(new_rows[i], key), i);
    std::vector<bool> used(new_rows.size(), false);
    for (const auto& o : old_rows) {
        auto it = new_by_key.find(key_of(o, key));
        if (it != new_by_key.end() && !used[it->second]) {
            used[it->second] = true;
            emit(op_kind::update, o, new_rows[it->second]);
        } else {
            emit(op_kind::remove, o, nullptr);
        }
    }
    for (size_t i = 0; i < new_rows.size(); ++i)
        if (!used[i]) emit(op_kind::insert, nullptr, new_rows[i]);
}

}  // namespace

std::vector<transaction> decode_transactions(const pqxx::result& rows, bool report, size_t first_row) {
    std::vector<transaction> txs;
    for (auto it = rows.begin() + pqxx::result::difference_type(std::min<size_t>(first_row, rows.size())); it != rows.end(); ++it) {
        const auto& r = *it;
        int64_t pos = r[0].as<int64_t>();
        if (txs.empty() || txs.back().position != pos) {
            transaction t;
            t.position = pos;
            t.xid = std::stoull(r[1].c_str());
            t.ts = r[2].c_str();
            t.ts_us = commit_time_us(t.ts);
            txs.push_back(std::move(t));
        }
        auto& changes = txs.back().changes;
        std::string topic = r[3].c_str();
        std::string op = r[4].c_str();
        json old_rows, new_rows, key;
        try {
            old_rows = parse_field(r[5]);
            new_rows = parse_field(r[6]);
            if (op == "U") key = parse_field(r[7]);
        } catch (const std::exception& e) {
            // One bad value must not stall capture for every topic (re-reading the batch would
            // fail forever): the change is skipped, reported once, and its topic's subscribers are
            // told. The message names topic and position, never the value.
            auto& bad = txs.back().undecodable;
            if (std::find(bad.begin(), bad.end(), topic) == bad.end()) bad.push_back(topic);
            if (report)
                log_error("outbox: skipped a change of " + topic + " at position " + std::to_string(pos) +
                          " that pglive cannot decode (" + e.what() + ")");
            continue;
        }
        auto each = [&](const json& arr, op_kind kind, bool as_old) {
            if (!arr.is_array()) return;
            for (const auto& row : arr) {
                change c;
                c.topic = topic;
                c.op = kind;
                (as_old ? c.old_row : c.new_row) = row;
                changes.push_back(std::move(c));
            }
        };
        if (op == "I") {
            each(new_rows, op_kind::insert, false);
        } else if (op == "D") {
            each(old_rows, op_kind::remove, true);
        } else if (op == "U") {
            decode_update(topic, old_rows, new_rows, key, changes);
        } else if (op == "T" || op == "M" || op == "C") {
            change c;
            c.topic = topic;
            c.op = op == "T" ? op_kind::truncate : op == "M" ? op_kind::message : op_kind::control;
            if (op != "T") c.new_row = std::move(new_rows);
            changes.push_back(std::move(c));
        } else {
            throw std::runtime_error("outbox: unknown op '" + op + "' at position " + std::to_string(pos));
        }
    }
    return txs;
}

int64_t run_sequencer(pqxx::connection_base& conn) {
    // One autocommit statement (one round trip): its own READ COMMITTED transaction, so each
    // statement inside sequence() sees the latest commits.
    pqxx::nontransaction n(conn);
    return n.exec("select pglive.sequence()")[0][0].as<int64_t>();
}

sequencer_run run_sequencer_reading_pruned(pqxx::connection_base& conn) {
    pqxx::nontransaction n(conn);
    auto r = n.exec("select pglive.sequence(), (select pruned_upto from pglive.state), (select epoch from pglive.state)")[0];
    return sequencer_run{r[0].as<int64_t>(), r[1].as<int64_t>(), r[2].as<int64_t>()};
}

std::vector<epoch_info> read_epochs_after(pqxx::connection_base& conn, int64_t after) {
    pqxx::nontransaction n(conn);
    std::vector<epoch_info> out;
    for (const auto& r : n.exec_params("select epoch, base, durable_before from pglive.epochs_after($1)", after))
        out.push_back(epoch_info{r[0].as<int64_t>(), r[1].as<int64_t>(), r[2].as<int64_t>()});
    return out;
}

void prepare_outbox_reads(pqxx::connection_base& conn) {
    // The last column (after those decode_transactions reads) is what retention had removed
    // when this statement took its snapshot: a gap is then known exactly.
    // One index probe of the outbox per transaction (LATERAL): a join left to the planner hashes
    // the whole outbox on every read (pglive.tx's positions are estimated at a third of the
    // table, and xid8 has no statistics), 2-3 ms at 20,000 rows and growing with retention,
    // with JIT compiling it above ~100,000 (200 ms a read). The same query as
    // pglive.sequence_read's (pglive.sql).
    // Planned once: the position estimate made the generic plan look dearer than a custom one,
    // so the read was planned again at every pass (the generic plan is the same index plan).
    {
        pqxx::nontransaction n(conn);
        n.exec("set jit = off; set plan_cache_mode = force_generic_plan");
    }
    conn.prepare("pglive_read_batch",
                 std::string("select ") + outbox_select_list + ", (select pruned_upto from pglive.state), (select epoch from pglive.state)" +
                     " from (select x.position, x.xid, x.ts from pglive.tx x where x.position > $1"
                     "       order by x.position limit $2) t"
                     " cross join lateral (select b.* from pglive.outbox b where b.xid = t.xid order by b.seq) o"
                     " order by t.position, o.seq");
    // The listener's other statements of every pass, prepared too (libpqxx prepares a statement
    // at its first use, so a schema without sequence_read never sees it): as an unnamed
    // statement, parsed and planned again at each call, a pass cost 0.48 ms instead of 0.26 ms
    // (pgbench, one client, an idle database).
    conn.prepare("pglive_sequence_read", "select * from pglive.sequence_read($1, $2, $3)");
    conn.prepare("pglive_sequence_read4", "select * from pglive.sequence_read($1, $2, $3, $4)");
    conn.prepare("pglive_doze", "select pglive.doze($1)");
    conn.prepare("pglive_release_doorbell", "select pg_advisory_unlock(pglive.lock_doorbell())");
}

std::vector<transaction> read_batch(pqxx::connection_base& conn, int64_t after, int max_tx, int64_t* pruned_upto,
                                    int64_t* epoch) {
    pqxx::nontransaction n(conn);
    auto rows = n.exec_prepared("pglive_read_batch", after, max_tx);
    if (pruned_upto && !rows.empty()) *pruned_upto = rows[0][8].as<int64_t>();
    if (epoch && !rows.empty()) *epoch = rows[0][9].as<int64_t>();
    return decode_transactions(rows);
}

bool has_sequence_read(pqxx::connection_base& conn) {
    pqxx::nontransaction n(conn);
    return !n.exec("select to_regprocedure('pglive.sequence_read(bigint,integer,boolean)')")[0][0].is_null();
}

bool has_dozing_sequence_read(pqxx::connection_base& conn) {
    pqxx::nontransaction n(conn);
    return !n.exec("select to_regprocedure('pglive.sequence_read(bigint,integer,boolean,integer)')")[0][0].is_null();
}

sequenced_batch sequence_and_read(pqxx::connection_base& conn, int64_t after, int max_tx, bool release_doorbell,
                                  bool dozing_form, std::optional<int> doze_ms) {
    pqxx::nontransaction n(conn);
    auto rows = doze_ms        ? n.exec_prepared("pglive_sequence_read4", after, max_tx, release_doorbell, *doze_ms)
                : dozing_form ? n.exec_prepared("pglive_sequence_read4", after, max_tx, release_doorbell, nullptr)
                               : n.exec_prepared("pglive_sequence_read", after, max_tx, release_doorbell);
    sequenced_batch out;
    if (rows.empty() || !rows[0][0].is_null()) throw std::runtime_error("pglive.sequence_read: no header row");
    // The three-argument form says nothing of the doorbell: it is held as the caller said.
    out.doorbell = doze_ms || dozing_form ? rows[0][10].as<bool>() : release_doorbell;
    out.run.pruned_upto = rows[0][8].as<int64_t>();
    out.run.epoch = rows[0][9].as<int64_t>();
    if (rows.size() > 1) {
        out.batch_pruned_upto = rows[1][8].as<int64_t>();
        out.batch_epoch = rows[1][9].as<int64_t>();
    }
    out.batch = decode_transactions(rows, true, 1);
    return out;
}

}  // namespace pglive
