// workload.cpp — writers: random statements, savepoints, rollbacks, held-open transactions, reconnects.
#include "model/workload.h"

#include <set>
#include <sstream>

#include "capture/db.h"
#include "model/values.h"

namespace pglive::model {

features features::parse(const std::string& text) {
    features f;
    if (text.empty() || text == "all") return f;
    std::vector<std::string> items;
    std::stringstream ss(text);
    for (std::string item; std::getline(ss, item, ',');)
        if (!item.empty()) items.push_back(item);
    bool only = !items.empty() && items[0][0] != '-';
    if (only) f = features{false, false, false, false, false, false, false, false, false, false, false};
    for (auto& item : items) {
        bool on = item[0] != '-';
        std::string name = on ? item : item.substr(1);
        if (name == "none" || name == "all") {
            bool v = name == "all";
            f = features{v, v, v, v, v, v, v, v, v, v, v};
            continue;
        }
        bool* p = name == "types" ? &f.types : name == "zones" ? &f.zones : name == "faults" ? &f.faults
                : name == "pgrestart" ? &f.pgrestart : name == "truncate" ? &f.truncate
                : name == "windows" ? &f.windows : name == "resume" ? &f.resume : name == "nodes" ? &f.nodes
                : name == "retention" ? &f.retention : name == "jsonnull" ? &f.jsonnull
                : name == "aggregates" ? &f.aggregates
                : name == "policies" ? &f.policies : nullptr;
        if (!p) throw std::invalid_argument("PGLIVE_MODEL_FEATURES: unknown feature '" + name +
                                            "' (types,zones,faults,pgrestart,truncate,windows,resume,nodes,retention,jsonnull,aggregates,policies)");
        *p = on;
    }
    return f;
}

std::string features::text() const {
    std::string s;
    auto add = [&](bool on, const char* n) {
        if (on) s += (s.empty() ? "" : ",") + std::string(n);
    };
    add(types, "types");
    add(zones, "zones");
    add(faults, "faults");
    add(pgrestart, "pgrestart");
    add(truncate, "truncate");
    add(windows, "windows");
    add(resume, "resume");
    add(nodes, "nodes");
    add(retention, "retention");
    add(jsonnull, "jsonnull");
    add(aggregates, "aggregates");
    add(policies, "policies");
    return s.empty() ? "none" : s;
}

workload::workload(std::string conninfo, uint64_t seed, int writers, int total_tx, double seconds, features f)
    : conninfo_(std::move(conninfo)), seed_(seed), writers_(writers), total_(total_tx),
      rate_(total_tx / std::max(1.0, seconds * 0.75)), f_(f) {}

workload::~workload() { stop(); }

void workload::start() {
    for (int w = 0; w < writers_; ++w) threads_.emplace_back([this, w] { run(w); });
}

void workload::stop() {
    stop_ = true;
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
}

namespace {

const table_def& mt() { return tables()[MT]; }

std::string mt_values(value_gen& g, int64_t id) {
    std::string s = "(" + sql_quote(std::to_string(id)) + "::int8";
    for (size_t c = 1; c < mt().cols.size(); ++c) {
        const auto& col = mt().cols[c];
        if (col.name == "grp") s += ", " + (g.chance(0.15) ? std::string("NULL") : std::to_string(g.pick(5)));
        else s += ", " + g.literal(col.type);
    }
    return s + ")";
}

std::string mt_set(value_gen& g, int n) {
    std::string s;
    for (int i = 0; i < n; ++i) {
        const auto& col = mt().cols[size_t(1 + g.pick(int(mt().cols.size()) - 1))];
        std::string v = col.name == "grp" ? (g.chance(0.15) ? "NULL" : std::to_string(g.pick(5))) : g.literal(col.type);
        if (s.find(col.name + " =") != std::string::npos) continue;
        s += (s.empty() ? "" : ", ") + col.name + " = " + v;
    }
    return s;
}

std::string id_lit(int64_t id) { return sql_quote(std::to_string(id)) + "::int8"; }

std::string statement(value_gen& g, const features& f) {
    int r = g.pick(100);
    if (r < 60) {  // public.mt
        int kind = g.pick(100);
        if (kind < 22) {
            std::string s = "insert into public.mt values " + mt_values(g, g.mt_id());
            if (g.chance(0.25)) return s + " on conflict (id) do update set " + mt_set(g, 2).substr(0) ;
            return s + " on conflict do nothing";
        }
        if (kind < 30) {
            std::set<int64_t> ids;
            int n = 2 + g.pick(3);
            while (int(ids.size()) < n) ids.insert(g.mt_id());
            std::string s = "insert into public.mt values ";
            bool first = true;
            for (auto id : ids) {
                s += (first ? "" : ", ") + mt_values(g, id);
                first = false;
            }
            return s + " on conflict do nothing";
        }
        if (kind < 50) return "update public.mt set " + mt_set(g, 1 + g.pick(3)) + " where id = " + id_lit(g.mt_id());
        if (kind < 56) return "update public.mt set " + mt_set(g, 1 + g.pick(2)) + " where grp = " + std::to_string(g.pick(5));
        if (kind < 60) return "update public.mt set secret = " + g.literal(col_type::text) + " where id = " + id_lit(g.mt_id());
        if (kind < 68) return "update public.mt set id = " + id_lit(g.mt_id()) + " where id = " + id_lit(g.mt_id());
        if (kind < 73) {
            int a = 1 + g.pick(40), b = a + g.pick(6);
            if (g.chance(0.5)) return "update public.mt set id = -id where id between " + std::to_string(a) + " and " + std::to_string(b);
            return "update public.mt set id = -id where id between " + std::to_string(-b) + " and " + std::to_string(-a);
        }
        if (kind < 76) {
            int a = 1 + g.pick(40), b = a + g.pick(4);
            return "update public.mt set id = id + 1, grp = " + std::to_string(g.pick(5)) + " where id between " +
                   std::to_string(a) + " and " + std::to_string(b);
        }
        if (kind < 88) return "delete from public.mt where id = " + id_lit(g.mt_id());
        if (kind < 92) return "delete from public.mt where grp = " + std::to_string(g.pick(5)) + " and id % 3 = " + std::to_string(g.pick(3));
        if (kind < 96) return "delete from public.mt where id in (" + id_lit(g.mt_id()) + ", " + id_lit(g.mt_id()) + ")";
        if (f.truncate && g.chance(0.15)) return "truncate public.mt";
        return "update public.mt set grp = grp where grp = " + std::to_string(g.pick(5));  // changes nothing
    }
    // public.st: composite key (k text, n int)
    std::string k = sql_quote(g.st_k()), n = std::to_string(g.st_n());
    auto v = [&] { return g.literal(col_type::text); };
    auto q = [&] { return g.chance(0.2) ? std::string("NULL") : std::to_string(g.pick(10)); };
    int kind = g.pick(100);
    if (kind < 35) return "insert into public.st values (" + k + ", " + n + ", " + v() + ", " + q() + ") on conflict do nothing";
    if (kind < 40) return "insert into public.st select " + k + ", g, " + v() + ", g % 4 from generate_series(0, 11) g on conflict do nothing";
    if (kind < 60) return "update public.st set v = " + v() + ", q = " + q() + " where k = " + k + " and n = " + n;
    if (kind < 65) return "update public.st set q = " + q() + " where k = " + k;
    if (kind < 75) return "update public.st set n = n + 1 where k = " + k + " and n = " + n;
    if (kind < 80) return "update public.st set k = " + sql_quote(g.st_k()) + " where k = " + k + " and n = " + n;
    if (kind < 92) return "delete from public.st where k = " + k + " and n = " + n;
    if (kind < 97) return "delete from public.st where k = " + k + " and q = " + std::to_string(g.pick(4));
    if (f.truncate && g.chance(0.3)) return "truncate public.st";
    return "delete from public.st where k = " + k + " and n > " + n;
}

bool connection_lost(const pqxx::connection_base* c, const std::exception& e) {
    if (dynamic_cast<const pqxx::broken_connection*>(&e)) return true;
    if (auto s = dynamic_cast<const pqxx::sql_error*>(&e)) {
        std::string st = s->sqlstate();
        if (st.rfind("57", 0) == 0 || st.rfind("08", 0) == 0 || st.empty()) return true;
    }
    return !c || !c->is_open();
}

const char* const zones[] = {"UTC", "Asia/Kolkata", "America/St_Johns", "Pacific/Chatham", "Europe/Berlin",
                             "America/Los_Angeles"};

}  // namespace

void workload::run(int w) {
    std::mt19937_64 rng(seed_ * 7919 + uint64_t(w) * 104729 + 1);
    value_gen g{rng, f_.types, f_.zones};
    std::unique_ptr<pqxx::connection> conn;
    auto slot = std::chrono::steady_clock::now();
    auto period = std::chrono::duration<double>(writers_ / std::max(rate_, 1.0));
    auto lost_since = std::chrono::steady_clock::time_point{};
    int count = 0;
    while (!stop_) {
        // Pacing: the workload's rate, not a wait for a condition.
        slot += std::chrono::duration_cast<std::chrono::steady_clock::duration>(period);
        std::this_thread::sleep_until(slot);
        if (!conn) {
            try {
                conn = open_connection(conninfo_, "model-writer");
                lost_since = {};
                std::lock_guard<std::mutex> l(mutex_);
                ++reconnects_;
            } catch (const std::exception& e) {
                auto now = std::chrono::steady_clock::now();
                if (lost_since == std::chrono::steady_clock::time_point{}) lost_since = now;
                if (now - lost_since > std::chrono::seconds(90)) {
                    std::lock_guard<std::mutex> l(mutex_);
                    errors_.push_back("writer " + std::to_string(w) + " could not reconnect for 90 s: " + e.what());
                    break;
                }
                continue;
            }
        }
        if (next_.fetch_add(1) >= total_) break;
        tx_record rec;
        rec.writer = w;
        bool committing = false;
        try {
            pqxx::nontransaction nt(*conn);
            if (f_.zones && g.chance(0.3)) nt.exec(std::string("set time zone '") + zones[g.pick(6)] + "'");
            nt.exec("begin");
            rec.tag = "w" + std::to_string(w) + "-" + std::to_string(++count);
            rec.xid = nt.exec("select pg_current_xact_id()::text, set_config('model_audit.tx', " + sql_quote(rec.tag) +
                              ", true)")[0][0].c_str();
            int statements = 1 + g.pick(5);
            bool aborted = false;
            for (int i = 0; i < statements && !aborted; ++i) {
                std::string s = statement(g, f_);
                bool sp = g.chance(0.4);
                if (sp) {
                    nt.exec("savepoint sp");
                    rec.sql += "savepoint sp; ";
                }
                rec.sql += s + "; ";
                try {
                    nt.exec(s);
                    if (sp && g.chance(0.15)) {  // undo work that succeeded
                        nt.exec("rollback to savepoint sp");
                        rec.sql += "rollback to savepoint sp; ";
                    }
                } catch (const pqxx::sql_error& e) {
                    if (connection_lost(conn.get(), e)) throw;
                    if (sp) {
                        nt.exec("rollback to savepoint sp");
                        rec.sql += "/* " + e.sqlstate() + " */ rollback to savepoint sp; ";
                    } else {
                        rec.sql += "/* " + e.sqlstate() + " */ ";
                        aborted = true;
                    }
                }
                if (g.chance(0.06))  // held open while the other writers commit: commits out of xid order
                    std::this_thread::sleep_for(std::chrono::milliseconds(20 + g.pick(250)));
            }
            if (aborted || g.chance(0.12)) {
                nt.exec("rollback");
                rec.sql += "rollback";
                rec.outcome = 'A';
            } else {
                committing = true;
                nt.exec("commit");
                rec.sql += "commit";
                rec.outcome = 'C';
            }
        } catch (const std::exception& e) {
            if (connection_lost(conn.get(), e)) {
                rec.outcome = committing ? '?' : 'L';
                rec.sql += std::string(committing ? " /* commit answer lost: " : " /* connection lost: ") + e.what() + " */";
                conn.reset();
            } else {
                rec.outcome = 'A';
                rec.sql += std::string(" /* error: ") + e.what() + " */";
                try {
                    pqxx::nontransaction nt(*conn);
                    nt.exec("rollback");
                } catch (...) {
                    conn.reset();
                }
            }
        }
        if (!rec.xid.empty()) {
            std::lock_guard<std::mutex> l(mutex_);
            records_.push_back(std::move(rec));
        }
    }
    ++finished_;
}

void workload::resolve_unknown(pqxx::connection_base& conn) {
    std::lock_guard<std::mutex> l(mutex_);
    pqxx::work w(conn);
    for (auto& r : records_) {
        if (r.outcome != '?') continue;
        // Not pg_xact_status(xid): after an immediate shutdown, xids that reached no flushed WAL
        // are handed out again, so the xid may name a later transaction. The audit's tag cannot.
        auto res = w.exec("select count(*) from model_audit.log where tag = " + sql_quote(r.tag));
        bool rows = res[0][0].as<int64_t>() > 0;
        r.outcome = rows ? 'c' : 'n';
        r.sql += rows ? " /* resolved by the audit: committed */" : " /* resolved by the audit: no rows (not committed, or changed nothing) */";
    }
    w.commit();
}

std::map<std::string, const tx_record*> workload::by_xid() const {
    std::map<std::string, const tx_record*> m;
    for (auto& r : records_)
        if (r.outcome == 'C' || r.outcome == 'c' || !m.count(r.xid)) m[r.xid] = &r;  // a reused xid: the committed one
    return m;
}

std::string workload::summary() const {
    std::lock_guard<std::mutex> l(mutex_);
    int c = 0, a = 0, lost = 0, rc = 0, rn = 0, u = 0;
    for (auto& r : records_)
        (r.outcome == 'C' ? c : r.outcome == 'A' ? a : r.outcome == 'L' ? lost : r.outcome == 'c' ? rc : r.outcome == 'n' ? rn : u)++;
    return std::to_string(records_.size()) + " transactions (" + std::to_string(c) + " committed, " + std::to_string(a) +
           " rolled back or failed, " + std::to_string(lost) + " cut off before COMMIT, " + std::to_string(rc + rn + u) +
           " with the COMMIT's answer lost: " + std::to_string(rc) + " committed and " + std::to_string(rn) +
           " not, by the audit), " + std::to_string(reconnects_) + " writer connections";
}

std::vector<std::string> workload::errors() const {
    std::lock_guard<std::mutex> l(mutex_);
    return errors_;
}

}  // namespace pglive::model
