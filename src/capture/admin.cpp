// admin.cpp — install/attach/detach/status/publish/prune and topic loads, with PostgreSQL errors
// turned into one clear line.
#include "capture/admin.h"

#include <algorithm>
#include <cstring>

#include "capture/outbox.h"
#include "capture/schema_sql.h"
#include "core/exact_json.h"
#include "core/log.h"
#include "core/text.h"

namespace pglive {

namespace {

// Runs f, translating database errors for `doing` (e.g. "attach public.orders").
template <class F>
auto translated(const std::string& doing, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const pqxx::sql_error& e) {
        std::string msg = first_line(e.what());
        // libpqxx 6.4 leaves sqlstate() empty on insufficient_privilege: test the type too.
        if (e.sqlstate() == "42501" || dynamic_cast<const pqxx::insufficient_privilege*>(&e)) {
            std::string need;
            if (msg.find("schema pglive") != std::string::npos || msg.find("pglive.") != std::string::npos)
                need = "the role needs USAGE on schema pglive and INSERT/UPDATE/DELETE/SELECT on its tables and "
                       "sequences (or be the owner of schema pglive)";
            else if (msg.find("for table") != std::string::npos || msg.find("must be owner") != std::string::npos)
                need = "creating capture triggers needs ownership of the table or its TRIGGER privilege";
            else if (msg.find("database") != std::string::npos)
                need = "installing the schema needs CREATE on the database";
            else
                need = "check the role's privileges";
            throw admin_error(doing + ": " + msg + " (" + need + ")");
        }
        if (msg.rfind(doing, 0) == 0 || msg.rfind("attach", 0) == 0 || msg.rfind("detach", 0) == 0 ||
            msg.rfind("publish", 0) == 0 || msg.rfind("wakeup", 0) == 0)
            throw admin_error(msg);
        throw admin_error(doing + ": " + msg);
    } catch (const pqxx::broken_connection& e) {
        throw admin_error(doing + ": database connection lost: " + first_line(e.what()));
    }
}

std::string json_text_array(const std::vector<std::string>& v) { return json(v).dump(); }

// A text[] parameter from a json array text ($n::jsonb); null when the json is null.
std::string text_array_param(int n) {
    return "(select array_agg(x) from jsonb_array_elements_text(nullif($" + std::to_string(n) + "::jsonb, 'null')) x)";
}

std::vector<std::string> strings_of(const pqxx::field& f) {
    if (f.is_null()) return {};
    return json::parse(f.c_str()).get<std::vector<std::string>>();
}

// The table must exist before pglive.attach sees it, to say "no such table" in our words.
void require_table(pqxx::transaction_base& w, const std::string& table, const std::string& doing) {
    if (w.exec_params("select to_regclass($1) is null", table)[0][0].as<bool>())
        throw admin_error(doing + ": no such table " + table);
}

}  // namespace

void install_schema(pqxx::connection_base& conn) {
    translated("install", [&] {
        pqxx::work w(conn);
        w.exec("set local client_min_messages = warning");  // no "already exists, skipping" on upgrades
        w.exec(schema_sql);
        w.commit();
    });
}

bool schema_installed(pqxx::connection_base& conn) {
    return translated("check schema", [&] {
        // The catalogs, not to_regclass: a role without USAGE on pglive still gets an answer.
        pqxx::nontransaction n(conn);
        return n.exec("select count(*) = 3 from pg_class c join pg_namespace s on s.oid = c.relnamespace "
                      "where s.nspname = 'pglive' and c.relname in ('outbox', 'tx', 'state')")[0][0]
                   .as<bool>() &&
               n.exec("select exists (select 1 from pg_proc p join pg_namespace s on s.oid = p.pronamespace "
                      "where s.nspname = 'pglive' and p.proname = 'sequence')")[0][0]
                   .as<bool>();
    });
}

topic_info attach(pqxx::connection_base& conn, const std::string& table, const std::vector<std::string>& key,
                  const std::vector<std::string>& columns, const std::vector<std::string>& exclude) {
    if (!schema_installed(conn)) install_schema(conn);
    const std::string doing = "attach " + table;
    // attach's WARNINGs (a column that becomes visible) reach whoever ran it: stderr.
    struct warnings : pqxx::errorhandler {
        using pqxx::errorhandler::errorhandler;
        bool operator()(const char msg[]) noexcept override {
            std::string m = msg;
            if (m.rfind("WARNING:", 0) == 0) {
                m = m.substr(m.find_first_not_of(' ', 8));
                while (!m.empty() && m.back() == '\n') m.pop_back();
                log_warn(m);
            }
            return true;
        }
    } forward(conn);
    std::string topic = translated(doing, [&] {
        pqxx::work w(conn);
        require_table(w, table, doing);
        auto r = w.exec_params("select pglive.attach($1::regclass, " + text_array_param(2) + ", " +
                                   text_array_param(3) + ", " + text_array_param(4) + ")",
                               table, key.empty() ? "null" : json_text_array(key),
                               columns.empty() ? "null" : json_text_array(columns),
                               exclude.empty() ? "null" : json_text_array(exclude));
        w.commit();
        return std::string(r[0][0].c_str());
    });
    for (auto& t : list_topics(conn))
        if (t.topic == topic) return t;
    throw admin_error(doing + ": attached as " + topic + " but not found in pglive.tables");
}

void detach(pqxx::connection_base& conn, const std::string& table) {
    const std::string doing = "detach " + table;
    translated(doing, [&] {
        pqxx::work w(conn);
        require_table(w, table, doing);
        w.exec_params("select pglive.detach($1::regclass)", table);
        w.commit();
    });
}

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
                                    "join pg_type ty on ty.oid = a.atttypid) "
                                    "from pglive.tables where exists (select 1 from pg_class r where r.oid = relid) order by topic")) {
            topic_info t;
            t.topic = r[0].c_str();
            t.key = strings_of(r[1]);
            t.columns = strings_of(r[2]);
            t.types = strings_of(r[3]);
            out.push_back(std::move(t));
        }
        return out;
    });
}

json status(pqxx::connection_base& conn) {
    return translated("status", [&] {
        pqxx::work w(conn);
        json tables = json::array();
        for (const auto& r : w.exec("select topic, to_jsonb(key)::text, to_jsonb(pglive.exposed_columns(relid))::text, "
                                    "to_jsonb(exclude)::text from pglive.tables order by topic")) {
            json t = {{"topic", r[0].c_str()}, {"key", strings_of(r[1])}, {"columns", strings_of(r[2])}};
            if (!r[3].is_null()) t["exclude"] = strings_of(r[3]);
            tables.push_back(std::move(t));
        }
        auto r = w.exec(
            "select (select count(*) from pglive.outbox), (select count(*) from pglive.tx), "
            "(select coalesce(max(position), 0) from pglive.tx), s.wakeup, s.pruned_upto from pglive.state s")[0];
        auto health = w.exec("select pglive.capture_lag_seconds(), pg_notification_queue_usage()")[0];
        double lag = health[0].as<double>();
        w.commit();
        return json{{"tables", tables},
                    {"outbox_rows", r[0].as<int64_t>()},
                    {"tx_rows", r[1].as<int64_t>()},
                    {"last_position", r[2].as<int64_t>()},
                    {"lag_seconds", std::max(0.0, lag)},
                    {"notification_queue_usage", health[1].as<double>()},
                    {"wakeup", r[3].c_str()},
                    {"pruned_upto", r[4].as<int64_t>()}};
    });
}

void set_wakeup(pqxx::connection_base& conn, const std::string& mode) {
    translated("set wakeup", [&] {
        pqxx::work w(conn);
        w.exec_params("select pglive.set_wakeup($1)", mode);
        w.commit();
    });
}

void publish(pqxx::connection_base& conn, const std::string& topic, const json& data) {
    translated("publish " + topic, [&] {
        pqxx::work w(conn);
        w.exec_params("select pglive.publish($1, $2::jsonb)", topic, dump_exact(data));
        w.commit();
    });
}

int64_t prune(pqxx::connection_base& conn, int64_t age_seconds, int64_t max_count, int64_t node_timeout_s) {
    return translated("prune", [&] {
        pqxx::work w(conn);
        auto r = w.exec_params("select pglive.prune(case when $1::bigint > 0 then make_interval(secs => $1::bigint) end, "
                               "case when $2::bigint > 0 then $2::bigint end, "
                               "case when $3::bigint > 0 then make_interval(secs => $3::bigint) end)",
                               age_seconds, max_count, node_timeout_s);
        w.commit();
        return r[0][0].as<int64_t>();
    });
}

void beat(pqxx::connection_base& conn, const std::string& node_id, int64_t delivered) {
    translated("heartbeat", [&] {
        pqxx::nontransaction n(conn);
        n.exec_params("select pglive.beat($1, $2::bigint)", node_id, delivered);
    });
}

void leave(pqxx::connection_base& conn, const std::string& node_id) {
    translated("leave", [&] {
        pqxx::nontransaction n(conn);
        n.exec_params("select pglive.leave($1)", node_id);
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
        auto rows = w.exec_params(
            std::string("select ") + outbox_select_list +
                " from pglive.tx t join pglive.outbox o on o.xid = t.xid and o.topic = $3"
                " where t.position in (select t2.position from pglive.tx t2 where t2.position > $1"
                "   and ($2::bigint < 0 or t2.position <= $2::bigint)"
                "   and exists (select 1 from pglive.outbox o2 where o2.xid = t2.xid and o2.topic = $3)"
                "   order by t2.position limit $4)"
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
