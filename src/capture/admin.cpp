// admin.cpp — the DBA's operations: install, attach, detach, status, publish, retention, node beats.
#include "capture/admin.h"

#include <algorithm>
#include <cstring>

#include "capture/hub_reads.h"
#include "capture/pg_errors.h"
#include "capture/schema_sql.h"
#include "core/exact_json.h"
#include "core/log.h"
#include "core/text.h"

namespace pglive {

namespace {

std::string json_text_array(const std::vector<std::string>& v) { return json(v).dump(); }

// A text[] parameter from a json array text ($n::jsonb); null when the json is null.
std::string text_array_param(int n) {
    return "(select array_agg(x) from jsonb_array_elements_text(nullif($" + std::to_string(n) + "::jsonb, 'null')) x)";
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
                  const std::vector<std::string>& columns, const std::vector<std::string>& exclude,
                  const std::optional<std::string>& policy) {
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
                for (auto& c : m)  // one log line: libpq's DETAIL/HINT lines follow on the same one
                    if (c == '\n') c = ' ';
                log_warn(m);
            }
            return true;
        }
    } forward(conn);
    std::string topic = translated(doing, [&] {
        pqxx::work w(conn);
        require_table(w, table, doing);
        auto r = w.exec_params("select pglive.attach($1::regclass, " + text_array_param(2) + ", " +
                                   text_array_param(3) + ", " + text_array_param(4) + ", $5::text)",
                               table, key.empty() ? "null" : json_text_array(key),
                               columns.empty() ? "null" : json_text_array(columns),
                               exclude.empty() ? "null" : json_text_array(exclude),
                               policy ? policy->c_str() : nullptr);
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

json status(pqxx::connection_base& conn) {
    return translated("status", [&] {
        pqxx::work w(conn);
        json tables = json::array();
        for (const auto& r : w.exec("select topic, to_jsonb(key)::text, to_jsonb(pglive.exposed_columns(relid))::text, "
                                    "to_jsonb(exclude)::text, policy from pglive.tables order by topic")) {
            json t = {{"topic", r[0].c_str()}, {"key", strings_of(r[1])}, {"columns", strings_of(r[2])}};
            if (!r[3].is_null()) t["exclude"] = strings_of(r[3]);
            if (!r[4].is_null()) t["policy"] = r[4].c_str();
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
        // pglive.prune_step removes at most prune_chunk transactions a call, each call its own
        // transaction, so the sequencer (which waits for its lock) runs between them. At most
        // max_calls a round (a million transactions): a backlog beyond that waits for the next.
        // A schema older than this binary has only the unbounded pglive.prune: one call.
        constexpr int64_t prune_chunk = 5000, max_calls = 200;
        bool stepwise;
        {
            pqxx::nontransaction n(conn);
            stepwise = !n.exec("select to_regprocedure('pglive.prune_step(interval,bigint,interval,bigint)')")[0][0].is_null();
        }
        const std::string args =
            "case when $1::bigint > 0 then make_interval(secs => $1::bigint) end, "
            "case when $2::bigint > 0 then $2::bigint end, "
            "case when $3::bigint > 0 then make_interval(secs => $3::bigint) end";
        int64_t total = 0;
        for (int64_t call = 0; call < max_calls; ++call) {
            pqxx::work w(conn);
            auto r = stepwise ? w.exec_params("select pglive.prune_step(" + args + ", $4::bigint)", age_seconds, max_count,
                                              node_timeout_s, prune_chunk)
                              : w.exec_params("select pglive.prune(" + args + ")", age_seconds, max_count, node_timeout_s);
            w.commit();
            int64_t n = r[0][0].as<int64_t>();
            total += n;
            if (!stepwise || n < prune_chunk) break;
        }
        return total;
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

}  // namespace pglive
