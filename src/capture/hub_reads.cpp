// hub_reads.cpp — what the hub reads from the database: the attached topics, a topic's rows under
// one snapshot with its position label (the P* step), and a topic's history from the outbox.
#include "capture/hub_reads.h"

#include "capture/outbox.h"
#include "capture/pg_errors.h"
#include "core/exact_json.h"

namespace pglive {

std::vector<topic_info> list_topics(pqxx::connection_base& conn) {
    return translated("list topics", [&] {
        pqxx::nontransaction n(conn);
        std::vector<topic_info> out;
        // types: each exposed column's type (a domain's base type), for filters and orders.
        for (const auto& r : n.exec("select topic, to_jsonb(key)::text, to_jsonb(pglive.exposed_columns(relid))::text, "
                                    "(select coalesce(to_jsonb(array_agg(format_type(case when ty.typtype = 'd' "
                                    "then ty.typbasetype else a.atttypid end, null) order by c.n)), '[]')::text "
                                    "from unnest(pglive.exposed_columns(relid)) with ordinality c(name, n) "
                                    "join pg_attribute a on a.attrelid = relid and a.attname = c.name "
                                    "join pg_type ty on ty.oid = a.atttypid), coalesce(policy, '') "
                                    "from pglive.tables where exists (select 1 from pg_class r where r.oid = relid) order by topic")) {
            topic_info t;
            t.topic = r[0].c_str();
            t.key = strings_of(r[1]);
            t.columns = strings_of(r[2]);
            t.types = strings_of(r[3]);
            t.policy = r[4].c_str();
            out.push_back(std::move(t));
        }
        return out;
    });
}

topic_load load_topic(pqxx::connection_base& conn, const std::string& topic) {
    return translated("load " + topic, [&] {
        topic_load load;
        std::string snapshot_text;
        // Which table, outside the snapshot: the load must lock it before its snapshot exists.
        std::string table;
        {
            pqxx::nontransaction n(conn);
            auto r = n.exec_params("select relid::regclass::text from pglive.tables where topic = $1", topic);
            if (r.empty()) {
                load.error = "no attached table " + topic;
                return load;
            }
            table = r[0][0].c_str();
        }
        {
            pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> w(conn);
            // TRUNCATE is not MVCC-safe: one committing between our snapshot and our read would
            // empty the rows. ACCESS SHARE taken before the snapshot (LOCK and SET take none)
            // makes a TRUNCATE either visible in the snapshot or wait for the load.
            // relid::regclass::text is quoted as needed, so it is safe to splice.
            w.exec("lock table " + table + " in access share mode");
            // Rows as the capture triggers write them (pglive.sql, install_capture: the same settings).
            w.exec("set local timezone = 'UTC'; set local intervalstyle = 'postgres'; "
                   "set local extra_float_digits = 1; set local bytea_output = 'hex'");
            auto cfg = w.exec_params("select relid::regclass::text, to_jsonb(key)::text, "
                                     "to_jsonb(pglive.exposed_columns(relid))::text, pglive.hidden_columns(relid)::text, "
                                     "pglive.json_null_columns(relid, 'pglive_row_') "
                                     "from pglive.tables where topic = $1",
                                     topic);
            if (cfg.empty() || table != cfg[0][0].c_str()) {  // detached or re-attached meanwhile
                load.error = "no attached table " + topic;
                if (!cfg.empty()) load.error = "table of " + topic + " changed while loading; subscribe again";
                return load;
            }
            load.info.topic = topic;
            load.info.key = strings_of(cfg[0][1]);
            load.info.columns = strings_of(cfg[0][2]);
            // Below pruned_upto nothing is held: history must never claim the pruned range.
            auto pos = w.exec("select greatest(coalesce(max(position), 0), (select pruned_upto from pglive.state)), "
                              "pg_current_snapshot()::text from pglive.tx")[0];
            load.read_position = pos[0].as<int64_t>();
            load.snapshot = pg_snapshot::parse(pos[1].c_str());
            // `alias.*`, never a bare alias: to_jsonb(t) reads a column named t if the table has one.
            // SQL NULL json/jsonb columns are left out, as the capture functions do (json_null_columns
            // quotes with %I/%L, so its text is safe to splice).
            std::string nulls = cfg[0][4].is_null() ? "" : std::string(" - ") + cfg[0][4].c_str();
            auto rows = w.exec_params("select (to_jsonb(pglive_row_.*) - $1::text[]" + nulls + ")::text from " + table +
                                          " pglive_row_",
                                      std::string(cfg[0][3].c_str()));
            load.rows.reserve(rows.size());
            for (const auto& r : rows) load.rows.push_back(parse_exact(std::string_view(r[0].c_str(), r[0].size())));
            w.commit();
            snapshot_text = pos[1].c_str();
        }
        // P*: a transaction that committed before the snapshot but had no position yet is in the
        // rows. A sequencer run now gives every such transaction its position; the label is the
        // highest position whose transaction the snapshot saw.
        run_sequencer(conn);
        pqxx::nontransaction n(conn);
        load.position = n.exec_params("select coalesce(max(position), $1) from pglive.tx "
                                      "where position > $1 and pg_visible_in_snapshot(xid, $2::pg_snapshot)",
                                      load.read_position, snapshot_text)[0][0]
                            .as<int64_t>();
        return load;
    });
}

history_result read_history(pqxx::connection_base& conn, const std::string& topic, int64_t after, int64_t upto,
                            int max_tx) {
    return translated("history " + topic, [&] {
        history_result h;
        pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> w(conn);
        int64_t pruned = w.exec("select pruned_upto from pglive.state")[0][0].as<int64_t>();
        h.complete = after >= pruned;
        // Positions in order from pglive.tx's index, each probing the outbox by xid: left to the
        // planner, the semi-join hashes the whole outbox (xid8 has no statistics; see
        // prepare_outbox_reads), and JIT compiles it once the outbox is large.
        w.exec("set local enable_seqscan = off; set local enable_hashjoin = off; set local enable_mergejoin = off; "
               "set local jit = off");
        auto rows = w.exec_params(
            std::string("select ") + outbox_select_list +
                " from (select t2.position, t2.xid, t2.ts from pglive.tx t2 where t2.position > $1"
                "   and ($2::bigint < 0 or t2.position <= $2::bigint)"
                "   and exists (select 1 from pglive.outbox o2 where o2.xid = t2.xid and o2.topic = $3)"
                "   order by t2.position limit $4) t"
                " cross join lateral (select b.* from pglive.outbox b where b.xid = t.xid and b.topic = $3 order by b.seq) o"
                " order by t.position, o.seq",
            after, upto, topic, max_tx + 1);
        h.transactions = decode_transactions(rows, false);
        if (h.transactions.size() > size_t(max_tx)) {  // more than asked: the caller cannot resume from it
            h.transactions.resize(size_t(max_tx));
            h.complete = false;
        }
        w.commit();
        return h;
    });
}

}  // namespace pglive
