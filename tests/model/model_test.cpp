// model_test.cpp — issue 9: a randomized, model-based test of the real `pglive serve`.
//
// A private PostgreSQL, one or two serve nodes, concurrent writers (workload.h), WebSocket
// clients with random subscriptions that churn and resume (clients.h), faults (serve killed -9,
// PostgreSQL restarted fast and immediate), then every message every client received is checked
// against an oracle built from the test's own audit trigger (oracle.h, checker.h).
//
// Environment: PGLIVE_MODEL_SEED (default: time), PGLIVE_MODEL_TX (8000), PGLIVE_MODEL_SECONDS
// (150: the write phase's bound; writers pace themselves to finish in 3/4 of it), PGLIVE_MODEL_WRITERS (3), PGLIVE_MODEL_CLIENTS (3),
// PGLIVE_MODEL_SUBS (10), PGLIVE_MODEL_FEATURES (all; e.g. "windows,resume" or "all,-faults"),
// PGLIVE_MODEL_RUNS (1: seeds seed, seed+1, ...), PGLIVE_MODEL_MINIMIZE (1: on failure, re-run
// smaller from the same seed while it still fails, for PGLIVE_MODEL_MINIMIZE_SECONDS, 600, with
// one of the categories in PGLIVE_MODEL_MINIMIZE_CATEGORIES, default: any the first run had;
// PGLIVE_MODEL_MINIMIZE_TRIES runs per candidate, 2, since runs are not deterministic),
// PGLIVE_MODEL_SABOTAGE (drop|value: corrupt one received message, to see the checker catch it).
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <set>
#include <sstream>

#include "capture/admin.h"
#include "pgtmp/cluster.h"
#include "capture/db.h"
#include "model/checker.h"
#include "model/clients.h"
#include "model/oracle.h"
#include "model/workload.h"

namespace pglive::model {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

struct run_config {
    uint64_t seed = 1;
    int tx = 8000;
    double seconds = 150;
    int writers = 3;
    int clients = 3;
    int subs = 10;
    features f;
    std::string sabotage;  // test of the test: "drop" loses one patch, "value" alters one snapshot value
    std::string text() const {
        return "PGLIVE_MODEL_SEED=" + std::to_string(seed) + " PGLIVE_MODEL_TX=" + std::to_string(tx) +
               " PGLIVE_MODEL_SECONDS=" + std::to_string(int(seconds)) + " PGLIVE_MODEL_WRITERS=" +
               std::to_string(writers) + " PGLIVE_MODEL_CLIENTS=" + std::to_string(clients) +
               " PGLIVE_MODEL_SUBS=" + std::to_string(subs) + " PGLIVE_MODEL_FEATURES=" + f.text();
    }
};

struct run_result {
    check_result checks;
    std::string summary;
    double seconds = 0;
    int transactions = 0;
};

std::string env(const char* name, const std::string& dflt) {
    const char* v = std::getenv(name);
    return v && *v ? v : dflt;
}

double since_s(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

// Injects the enabled faults at random moments of the write phase, one at a time.
class fault_injector {
public:
    fault_injector(cluster& pg, serve_nodes& nodes, const features& f, uint64_t seed, double period_s)
        : pg_(pg), nodes_(nodes), f_(f), rng_(seed * 131 + 5), period_s_(period_s) {}
    void start() {
        if (f_.faults || f_.pgrestart) thread_ = std::thread([this] { run(); });
    }
    void stop() {
        {
            std::lock_guard<std::mutex> l(m_);
            stop_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }
    std::string summary() const { return log_; }
    std::vector<std::string> errors;

private:
    void run() {
        for (;;) {
            double wait = period_s_ * std::uniform_real_distribution<double>(0.5, 1.5)(rng_);
            {
                std::unique_lock<std::mutex> l(m_);
                // The schedule of faults (a timed pause that stop() interrupts), not a wait for a condition.
                if (cv_.wait_for(l, std::chrono::milliseconds(int64_t(wait * 1000)), [this] { return stop_; })) return;
            }
            std::vector<int> kinds;
            if (f_.faults) kinds.push_back(0);
            if (f_.pgrestart) kinds.push_back(1), kinds.push_back(2);
            int k = kinds[rng_() % kinds.size()];
            try {
                if (k == 0) {
                    int node = int(rng_() % uint64_t(nodes_.count()));
                    nodes_.kill_and_restart(node);
                    log_ += " serve" + std::to_string(node) + "-kill9";
                } else if (k == 1) {
                    pg_.restart();  // fast shutdown
                    log_ += " pg-fast-restart";
                } else {
                    pg_.kill();  // immediate shutdown: crash recovery at start
                    pg_.start();
                    log_ += " pg-immediate-restart";
                }
            } catch (const std::exception& e) {
                errors.push_back(std::string("fault injection failed: ") + e.what());
                try {
                    if (!pg_.running()) pg_.start();
                } catch (...) {
                }
            }
        }
    }
    cluster& pg_;
    serve_nodes& nodes_;
    features f_;
    std::mt19937_64 rng_;
    double period_s_;
    std::thread thread_;
    std::mutex m_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::string log_;
};

void exec(const std::string& conninfo, const std::string& sql) {
    auto conn = open_connection(conninfo, "model-setup");
    pqxx::work w(*conn);
    w.exec(sql);
    w.commit();
}

run_result run_model(const run_config& cfg) {
    auto t0 = clock_type::now();
    run_result res;
    auto& out = res.checks;
    auto add = [&](const std::string& cat, const std::string& text, int64_t pos = -1) { out.add({cat, pos, -1, text}); };

    cluster::options o;
    o.settings = {"fsync=off", "deadlock_timeout=100ms", "max_connections=200",
                  std::string("timezone=") + (cfg.f.zones ? "America/St_Johns" : "UTC")};
    cluster pg(o);
    pg.start();
    const std::string ci = pg.conninfo();
    {
        auto conn = open_connection(ci, "model-setup");
        install_schema(*conn);
    }
    exec(ci, R"SQL(
        create table public.mt (id int8 primary key, i4 int4, i8 int8, num numeric, f8 float8, txt text, b bool,
                                ts timestamptz, j jsonb, grp int4, secret text);
        create table public.st (k text, n int4, v text, q int4, primary key (k, n));
        select pglive.attach('public.mt', exclude => array['secret']);
        select pglive.attach('public.st');
    )SQL");
    if (cfg.f.policies) exec(ci, "select pglive.attach('public.st', policy => 'k=eq.{tenant}')");
    exec(ci, audit_schema_sql());
    exec(ci, "insert into public.mt (id, i4, grp, txt, secret) select g, g, g % 5, 'seed', 's' from generate_series(1, 30) g;"
             "insert into public.st select k, n, 'seed', n % 4 from unnest(array['a','b','c']) k, generate_series(0, 5) n");

    std::vector<spec> specs;
    {
        auto conn = open_connection(ci, "model-setup");
        specs = random_specs(*conn, cfg.seed, cfg.subs, cfg.f);
    }
    std::vector<std::string> args = {"--anonymous-topics", "*", "--unload-after-s", "2", "--token-secret", model_secret};
    if (cfg.f.retention)
        args.insert(args.end(), {"--retention-count", "300", "--prune-interval-s", "1", "--history-transactions", "40"});
    serve_nodes nodes(ci, args, cfg.f.nodes ? 2 : 1);
    nodes.start_all();

    client_pool clients(nodes, specs, cfg.f, cfg.seed, cfg.clients, cfg.seconds * 0.4);
    workload load(ci, cfg.seed, cfg.writers, cfg.tx, cfg.seconds, cfg.f);
    fault_injector faults(pg, nodes, cfg.f, cfg.seed, std::max(4.0, cfg.seconds / 10));
    clients.start();
    load.start();
    faults.start();

    // The write phase: until the writers are done or the time bound passes.
    auto write_end = t0 + std::chrono::milliseconds(int64_t(cfg.seconds * 1000));
    while (!load.done() && clock_type::now() < write_end) {
        std::this_thread::sleep_for(100ms);  // supervising the nodes while the writers run
        for (auto& e : nodes.supervise()) add("serve_exited", e);
    }
    load.stop();
    faults.stop();
    for (auto& e : faults.errors) add("fault_injection", e);
    for (auto& e : load.errors()) add("workload", e);
    if (!pg.running()) pg.start();
    clients.stop_churn();
    double write_s = since_s(t0);

    // Settle: every transaction the audit saw gets a position (the serve nodes sequence them).
    auto conn = [&] {
        std::unique_ptr<pqxx::connection> c;
        test::eventually([&] {
            try {
                c = open_connection(ci, "model-oracle");
                return true;
            } catch (...) {
                return false;
            }
        }, 60s, 50ms);
        if (!c) throw std::runtime_error("cannot connect to the test's PostgreSQL");
        return c;
    }();
    bool settled = test::eventually([&] {
        for (auto& e : nodes.supervise()) add("serve_exited", e);
        return unpositioned_count(*conn) == 0;
    }, 60s, 50ms);
    load.resolve_unknown(*conn);
    history h = load_history(*conn);
    if (!settled || !h.unpositioned.empty()) {
        std::string x;
        for (auto& u : h.unpositioned) x += " " + u;
        add("committed_without_position", "transactions committed (in the audit) but given no position within 60 s:" + x);
    }
    auto txs = load.by_xid();
    {
        // A transaction that was rolled back, or cut off before COMMIT, left no audit rows.
        pqxx::work w(*conn);
        std::set<std::string> tagged;
        for (auto r : w.exec("select distinct tag from model_audit.log where tag is not null")) tagged.insert(r[0].c_str());
        w.commit();
        for (auto& r : load.records())
            if ((r.outcome == 'A' || r.outcome == 'L') && tagged.count(r.tag))
                add("rolled_back_but_in_the_audit", "transaction " + r.tag + " (xid " + r.xid + "): " + r.sql);
    }

    // The oracle's final state, checked against the tables themselves.
    replay fin(h);
    for (int64_t p : h.positions) fin.apply(p);
    for (int t : {MT, ST}) {
        auto actual = read_table(*conn, t);
        auto d = diff_states(t, fin.state(t), actual);
        if (!d.empty())
            add("oracle_replay_vs_table", "public." + tables()[size_t(t)].name +
                                              ": the audit replayed in position order differs from the table:\n" + d);
    }
    // The oracle's filters and windows, checked against PostgreSQL running the same query.
    for (auto& s : specs) {
        view v = evaluate(s, fin.state(s.table));
        std::set<std::string> keys;
        pqxx::work w(*conn);
        for (auto r : w.exec(s.sql())) keys.insert(r[0].c_str());
        w.commit();
        bool ok = true;
        for (auto& [k, r] : v.must) ok &= keys.count(k) > 0;
        size_t ties = 0;
        for (auto& k : keys) {
            if (v.tie.count(k)) ++ties;
            else ok &= v.must.count(k) > 0;
        }
        ok &= ties == v.tie_need;
        std::string got;
        for (auto& k : keys) got += " " + k;
        if (!ok) add("oracle_self_check", "the oracle's view of " + s.describe() + " is not what `" + s.sql() +
                                              "` returns (" + got + " ):\n" + show_view(s, v));
    }

    // Catch-up: every subscription's current track reaches a state the final view allows, or
    // at least the last position that changed its view (then the checker says what is wrong).
    std::vector<view> final_views(specs.size());
    std::vector<int64_t> last_change(specs.size(), 0);
    {
        replay r(h);
        for (int64_t p : h.positions) {
            unsigned touched = r.apply(p);
            for (size_t s = 0; s < specs.size(); ++s) {
                if (!(touched & (1u << specs[s].table))) continue;
                view v = evaluate(specs[s], r.state(specs[s].table));
                if (!v.same_as(final_views[s], specs[s].table)) last_change[s] = p;
                final_views[s] = std::move(v);
            }
        }
        for (size_t s = 0; s < specs.size(); ++s) final_views[s] = evaluate(specs[s], r.state(specs[s].table));
    }
    auto caught_up = [&] {
        auto cur = clients.current_tracks();
        for (size_t s = 0; s < specs.size(); ++s) {
            if (!cur[s]) return false;
            std::lock_guard<std::mutex> l(cur[s]->mutex);
            if (!cur[s]->live || cur[s]->pos < 0) return false;
            if (cur[s]->pos < last_change[s] && !allowed(specs[s], final_views[s], cur[s]->state, nullptr)) return false;
        }
        return true;
    };
    bool all_caught_up = test::eventually(caught_up, 30s, 50ms);
    clients.stop();
    for (auto& e : nodes.supervise()) add("serve_exited", e);
    bool unsubscribed = false;
    std::string which;
    if (!all_caught_up) {
        auto cur = clients.current_tracks();
        for (size_t s = 0; s < specs.size(); ++s) {
            if (!cur[s]) {
                which += "  s" + std::to_string(s) + ": never subscribed\n";
                unsubscribed = true;
                continue;
            }
            std::lock_guard<std::mutex> l(cur[s]->mutex);
            // A live track short of the last change is judged by the checker's sweep (with a
            // window's ties the server may owe it nothing); here only tracks with no subscription.
            if (cur[s]->live && cur[s]->pos >= 0) {
                if (cur[s]->pos < last_change[s] && !allowed(specs[s], final_views[s], cur[s]->state, nullptr))
                    std::cout << "[model] note: " << specs[s].describe() << " ended at " << cur[s]->pos
                              << ", its view last changed at " << last_change[s] << std::endl;
                continue;
            }
            which += "  " + specs[s].describe() + ": at " + std::to_string(cur[s]->pos) + ", last change at " +
                         std::to_string(last_change[s]) +
                         (cur[s]->live ? "" : " (not subscribed at the end)") + "\n";
            unsubscribed = true;
        }
    }
    if (unsubscribed)
        add("not_subscribed_at_the_end", "30 s after the last commit (final position " + std::to_string(h.last()) +
                                             "), these subscriptions had no live subscription:\n" + which);
    for (auto& f : clients.failures()) {
        auto at = f.find("\"code\":\"");
        add(at == std::string::npos ? "client_protocol" : "server_error_" + f.substr(at + 8, f.find('"', at + 8) - at - 8), f);
    }

    // The checker must catch a client that lost a patch or got a wrong value (PGLIVE_MODEL_SABOTAGE).
    for (auto& t : clients.tracks()) {
        auto& m = t->msgs;
        bool done = false;
        for (size_t i = 0; i + 1 < m.size() && !done; ++i) {
            if (cfg.sabotage == "drop" && i > 0 && m[i].kind == 'P' && m[i + 1].kind == 'P' && m[i - 1].pos > 100) {
                std::cout << "[model] sabotage: dropping the patch of track " << t->id << " at " << m[i].pos << std::endl;
                m.erase(m.begin() + long(i));
                done = true;
            } else if (cfg.sabotage == "value" && m[i].kind == 'S' && m[i].body.is_object() && !m[i].body.empty()) {
                auto& row = m[i].body.begin().value();
                std::cout << "[model] sabotage: altering row " << m[i].body.begin().key() << " of the snapshot of track "
                          << t->id << " at " << m[i].pos << std::endl;
                row[row.begin().key()] = "sabotaged";
                done = true;
            }
        }
        if (done) break;
    }
    // Every message of every track, at its position.
    check_tracks(out, h, specs, clients.tracks(), txs);

    res.transactions = int(load.records().size());
    res.seconds = since_s(t0);
    std::ostringstream sum;
    sum << cfg.text() << "\n  " << load.summary() << "; final position " << h.last() << "\n  " << clients.summary()
        << "\n  faults:" << (faults.summary().empty() ? " none" : faults.summary()) << "\n  write phase "
        << int(write_s) << " s, whole run " << int(res.seconds) << " s\n";
    res.summary = sum.str();
    return res;
}

std::set<std::string> categories(const check_result& r) {
    std::set<std::string> s;
    for (auto& [c, n] : r.counts) s.insert(c);
    return s;
}

// Greedy shrinking from the same seed: keep a smaller configuration while it still fails
// with one of the original failure categories.
// A run is not deterministic (threads, faults): each candidate gets `tries` runs.
void minimize(run_config cfg, const std::set<std::string>& wanted, double budget_s, int tries) {
    auto t0 = clock_type::now();
    run_config best = cfg;
    std::string best_report;
    auto try_cfg = [&](const run_config& c) {
        if (since_s(t0) > budget_s) return false;
        for (int i = 0; i < tries && since_s(t0) < budget_s; ++i) {
            std::cout << "[model] minimize: trying " << c.text() << std::endl;
            auto r = run_model(c);
            bool still = false;
            for (auto& cat : categories(r.checks)) still |= wanted.count(cat) > 0;
            std::cout << "[model] minimize: " << (still ? "still fails" : "passes") << " (" << int(r.seconds) << " s)" << std::endl;
            if (still) {
                best = c;
                best_report = r.checks.report();
                return true;
            }
        }
        return false;
    };
    for (bool progress = true; progress && since_s(t0) < budget_s;) {
        progress = false;
        std::vector<run_config> cands;
        auto c = best;
        if (c.tx > 60) {
            c.tx = c.tx / 2;
            c.seconds = std::max(12.0, c.seconds / 2);
            cands.push_back(c);
        }
        c = best;
        if (c.writers > 1) c.writers--, cands.push_back(c);
        c = best;
        if (c.subs > 1) c.subs = std::max(1, c.subs / 2), c.clients = std::min(c.clients, c.subs), cands.push_back(c);
        c = best;
        if (c.clients > 1) c.clients = 1, cands.push_back(c);
        for (bool features::*flag : {&features::faults, &features::pgrestart, &features::nodes, &features::resume,
                                     &features::retention, &features::truncate, &features::windows, &features::zones,
                                     &features::types, &features::policies}) {
            c = best;
            if (c.f.*flag) c.f.*flag = false, cands.push_back(c);
        }
        for (auto& cand : cands)
            if (try_cfg(cand)) {
                progress = true;
                break;
            }
    }
    std::cout << "[model] minimized failing case: " << best.text() << "\n" << best_report << std::endl;
}

TEST(model, randomized_writers_faults_and_subscriptions_against_an_independent_oracle) {
    run_config cfg;
    cfg.seed = std::stoull(env("PGLIVE_MODEL_SEED", std::to_string(uint64_t(std::time(nullptr)) % 1000000)));
    cfg.tx = std::stoi(env("PGLIVE_MODEL_TX", "8000"));
    cfg.seconds = std::stod(env("PGLIVE_MODEL_SECONDS", "150"));
    cfg.writers = std::stoi(env("PGLIVE_MODEL_WRITERS", "3"));
    cfg.clients = std::stoi(env("PGLIVE_MODEL_CLIENTS", "3"));
    cfg.subs = std::stoi(env("PGLIVE_MODEL_SUBS", "10"));
    cfg.f = features::parse(env("PGLIVE_MODEL_FEATURES", "all"));
    cfg.sabotage = env("PGLIVE_MODEL_SABOTAGE", "");
    int runs = std::stoi(env("PGLIVE_MODEL_RUNS", "1"));
    bool minimize_on_failure = env("PGLIVE_MODEL_MINIMIZE", "0") == "1";
    double minimize_s = std::stod(env("PGLIVE_MODEL_MINIMIZE_SECONDS", "600"));
    std::string minimize_tries = env("PGLIVE_MODEL_MINIMIZE_TRIES", "2");
    std::set<std::string> minimize_cats;
    {
        std::stringstream ss(env("PGLIVE_MODEL_MINIMIZE_CATEGORIES", ""));
        for (std::string c; std::getline(ss, c, ',');)
            if (!c.empty()) minimize_cats.insert(c);
    }
    // serve reads every PGLIVE_<KEY> of its environment as a setting and refuses unknown ones.
    for (const char* v : {"PGLIVE_MODEL_SEED", "PGLIVE_MODEL_TX", "PGLIVE_MODEL_SECONDS", "PGLIVE_MODEL_WRITERS",
                          "PGLIVE_MODEL_CLIENTS", "PGLIVE_MODEL_SUBS", "PGLIVE_MODEL_FEATURES", "PGLIVE_MODEL_RUNS",
                          "PGLIVE_MODEL_MINIMIZE", "PGLIVE_MODEL_MINIMIZE_SECONDS", "PGLIVE_MODEL_SABOTAGE",
                          "PGLIVE_MODEL_MINIMIZE_CATEGORIES", "PGLIVE_MODEL_MINIMIZE_TRIES"})
        ::unsetenv(v);
    auto t0 = clock_type::now();
    int64_t total_tx = 0;
    int failed = 0;
    std::string failed_seeds;
    for (int i = 0; i < runs; ++i) {
        run_config c = cfg;
        c.seed = cfg.seed + uint64_t(i);
        std::cout << "[model] run " << (i + 1) << "/" << runs << ": " << c.text() << std::endl;
        auto r = run_model(c);
        total_tx += r.transactions;
        std::cout << "[model] " << r.summary << "[model] " << (r.checks.ok() ? "PASS" : "FAIL") << " seed " << c.seed
                  << ": " << r.checks.report() << std::endl;
        if (!r.checks.ok()) {
            ++failed;
            failed_seeds += " " + std::to_string(c.seed);
            ADD_FAILURE() << "seed " << c.seed << " diverged (re-run: " << c.text() << ")\n" << r.checks.report();
            if (minimize_on_failure) {
                auto wanted = minimize_cats.empty() ? categories(r.checks) : minimize_cats;
                bool any = false;
                for (auto& cat : categories(r.checks)) any |= wanted.count(cat) > 0;
                if (any) minimize(c, wanted, minimize_s, std::stoi(minimize_tries));
            }
        }
    }
    std::cout << "[model] " << runs << " runs, " << total_tx << " transactions, " << int(since_s(t0)) << " s, "
              << failed << " failed" << (failed ? " (seeds" + failed_seeds + ")" : std::string()) << std::endl;
}

}  // namespace
}  // namespace pglive::model
