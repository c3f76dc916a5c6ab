// clients.cpp — serve nodes, WebSocket clients that subscribe, churn and resume, and random specs.
#include "model/clients.h"

#include "model/aggregates.h"

#include <signal.h>

#include <sstream>

#include "core/jwt.h"
#include "support/ws_client.h"

namespace pglive::model {

using namespace std::chrono_literals;

// ---- serve nodes ----

serve_nodes::serve_nodes(std::string conninfo, std::vector<std::string> args, int count)
    : conninfo_(std::move(conninfo)), args_(std::move(args)), procs_(size_t(count)), old_output_(size_t(count)) {}

serve_nodes::~serve_nodes() = default;

void serve_nodes::start_all() {
    for (int i = 0; i < count(); ++i) {
        auto p = std::make_unique<test::serve_process>(test::start_serve(conninfo_, args_, 60s));
        std::lock_guard<std::mutex> l(mutex_);
        procs_[size_t(i)] = std::move(p);
    }
}

uint16_t serve_nodes::port(int node) {
    std::lock_guard<std::mutex> l(mutex_);
    auto& p = procs_[size_t(node)];
    return p ? p->port : 0;
}

void serve_nodes::kill_and_restart(int node) {
    std::unique_ptr<test::serve_process> old;
    {
        std::lock_guard<std::mutex> l(mutex_);
        old = std::move(procs_[size_t(node)]);
    }
    if (old) {
        old->proc->signal(SIGKILL);
        old->proc->wait_exit(10s);
        std::lock_guard<std::mutex> l(mutex_);
        old_output_[size_t(node)] += old->proc->output() + "--- killed -9 by the test ---\n";
    }
    auto p = std::make_unique<test::serve_process>(test::start_serve(conninfo_, args_, 60s));
    std::lock_guard<std::mutex> l(mutex_);
    procs_[size_t(node)] = std::move(p);
}

std::string serve_nodes::last_lines(const std::string& out, size_t n) {
    size_t at = out.size();
    for (size_t i = 0; i < n && at > 0; ++i) {
        at = out.rfind('\n', at - 1);
        if (at == std::string::npos) {
            at = 0;
            break;
        }
    }
    return out.substr(at);
}

std::vector<std::string> serve_nodes::supervise() {
    std::vector<std::string> out;
    for (int i = 0; i < count(); ++i) {
        std::unique_ptr<test::serve_process> dead;
        {
            std::lock_guard<std::mutex> l(mutex_);
            auto& p = procs_[size_t(i)];
            if (p && p->proc->wait_exit(0ms)) dead = std::move(p);
        }
        if (!dead) continue;
        auto st = dead->proc->wait_exit(0ms);
        std::string o = dead->proc->output();
        out.push_back("serve node " + std::to_string(i) + " exited by itself with status " + std::to_string(*st) +
                      "; its last output:\n" + last_lines(o, 15));
        {
            std::lock_guard<std::mutex> l(mutex_);
            old_output_[size_t(i)] += o + "--- exited by itself ---\n";
        }
        try {
            auto p = std::make_unique<test::serve_process>(test::start_serve(conninfo_, args_, 60s));
            std::lock_guard<std::mutex> l(mutex_);
            procs_[size_t(i)] = std::move(p);
        } catch (const std::exception& e) {
            out.push_back("serve node " + std::to_string(i) + " did not restart: " + e.what());
        }
    }
    return out;
}

std::string serve_nodes::output(int node) {
    std::lock_guard<std::mutex> l(mutex_);
    auto& p = procs_[size_t(node)];
    return old_output_[size_t(node)] + (p ? p->proc->output() : "");
}

// ---- clients ----

client_pool::client_pool(serve_nodes& nodes, const std::vector<spec>& specs, features f, uint64_t seed, int clients,
                         double start_window_s)
    : nodes_(nodes), specs_(specs), f_(f), seed_(seed), clients_(clients), start_window_s_(start_window_s),
      current_(specs.size(), nullptr) {}

client_pool::~client_pool() { stop(); }

void client_pool::start() {
    for (int c = 0; c < clients_; ++c) threads_.emplace_back([this, c] { run(c); });
}

void client_pool::stop() {
    stop_ = true;
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
}

track* client_pool::new_track(int spec) {
    std::lock_guard<std::mutex> l(mutex_);
    auto t = std::make_unique<track>();
    t->id = int(tracks_.size());
    t->spec = spec;
    track* p = t.get();
    tracks_.push_back(std::move(t));
    current_[size_t(spec)] = p;
    return p;
}

std::vector<track*> client_pool::current_tracks() {
    std::lock_guard<std::mutex> l(mutex_);
    return current_;
}

std::vector<std::string> client_pool::failures() {
    std::lock_guard<std::mutex> l(mutex_);
    return failures_;
}

std::string client_pool::summary() {
    std::lock_guard<std::mutex> l(mutex_);
    size_t msgs = 0, snaps = 0;
    for (auto& t : tracks_) {
        std::lock_guard<std::mutex> g(t->mutex);
        msgs += t->msgs.size();
        for (auto& m : t->msgs) snaps += m.kind == 'S';
    }
    return std::to_string(specs_.size()) + " subscriptions, " + std::to_string(tracks_.size()) + " tracks, " +
           std::to_string(sessions_) + " subscribe requests (" + std::to_string(resumes_) + " with since) on " +
           std::to_string(connections_) + " connections, " + std::to_string(msgs) + " messages (" +
           std::to_string(snaps) + " snapshots)";
}

void client_pool::run(int c) {
    std::mt19937_64 rng(seed_ * 31337 + uint64_t(c) * 7 + 3);
    auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
    std::vector<int> mine;
    std::vector<std::chrono::steady_clock::time_point> start_at;
    auto t0 = std::chrono::steady_clock::now();
    for (size_t s = 0; s < specs_.size(); ++s)
        if (int(s) % clients_ == c) {
            mine.push_back(int(s));
            // Subscriptions start while the writers run, so topic loads race writes.
            double at = std::uniform_real_distribution<double>(0, start_window_s_)(rng);
            start_at.push_back(t0 + std::chrono::milliseconds(int64_t(at * 1000)));
        }
    auto fail = [&](const std::string& f) {
        std::lock_guard<std::mutex> l(mutex_);
        failures_.push_back(f);
    };
    while (!stop_) {
        int node = f_.nodes ? int(rng() % uint64_t(nodes_.count())) : 0;
        uint16_t port = nodes_.port(node);
        if (!port) {
            std::this_thread::sleep_for(20ms);  // the node is restarting: poll for it
            continue;
        }
        std::unique_ptr<test::ws_client> ws;
        try {
            ws = std::make_unique<test::ws_client>("127.0.0.1", port, "/ws");
        } catch (const std::exception&) {
            std::this_thread::sleep_for(20ms);  // refused while the node restarts: poll again
            continue;
        }
        {
            std::lock_guard<std::mutex> l(mutex_);
            ++connections_;
        }
        bool churn = (f_.resume || f_.faults || f_.nodes) && churn_;
        auto end_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500 + int64_t(rng() % 9000));
        std::map<std::string, std::pair<track*, int>> subs;  // sub name → (track, session)
        std::vector<bool> subscribed(mine.size(), false);
        int ref = 0;
        bool broken = false;
        while (!stop_ && !broken) {
            auto now = std::chrono::steady_clock::now();
            for (size_t i = 0; i < mine.size(); ++i) {
                if (subscribed[i] || now < start_at[i]) continue;
                int s = mine[i];
                const spec& sp = specs_[size_t(s)];
                track* t = current_tracks()[size_t(s)];
                std::optional<int64_t> since;
                if (t && f_.resume) {
                    std::lock_guard<std::mutex> g(t->mutex);
                    if (t->pos >= 0 && !t->apply_failed && chance(0.85)) since = t->pos;
                }
                if (!since) t = new_track(s);
                json m = {{"op", "subscribe"}, {"ref", std::to_string(++ref)}, {"topic", tables()[size_t(sp.table)].topic},
                          {"sub", "s" + std::to_string(s)}};
                if (!sp.conds.empty()) m["filter"] = sp.filter_json();
                if (sp.agg) {
                    m["group"] = sp.group_json();
                    m["aggregate"] = sp.aggregate_json();
                }
                if (sp.limit) {
                    m["limit"] = sp.limit;
                    m["order"] = sp.order_text();
                }
                if (since) m["since"] = std::to_string(*since);
                if (!sp.tenant.empty() || sp.admin) {  // features::policies: this spec's claims for what follows
                    json claims = {{"sub", "model"}, {"topics", {"*"}}};
                    if (sp.admin) claims["admin"] = true;
                    else claims["tenant"] = sp.tenant;
                    try {
                        ws->send(json{{"op", "auth"}, {"ref", "a" + std::to_string(ref)}, {"token", sign_jwt(claims, model_secret)}});
                    } catch (const std::exception&) {
                        broken = true;
                        break;
                    }
                }
                session_info si;
                {
                    std::lock_guard<std::mutex> l(mutex_);
                    si.id = ++sessions_;
                    resumes_ += since.has_value();
                }
                si.node = node;
                si.client = c;
                si.since = since;
                {
                    std::lock_guard<std::mutex> g(t->mutex);
                    t->sessions.push_back(si);
                    t->live = false;
                }
                try {
                    ws->send(m);
                } catch (const std::exception&) {
                    broken = true;
                    break;
                }
                subs["s" + std::to_string(s)] = {t, si.id};
                subscribed[i] = true;
            }
            if (broken) break;
            auto text = ws->read_text(100ms);
            if (!text) {
                if (ws->closed()) break;
            } else {
                json m;
                try {
                    m = parse_tagged(*text);
                } catch (const std::exception& e) {
                    fail("client " + std::to_string(c) + ": a frame that is not JSON: " + text->substr(0, 200));
                    continue;
                }
                std::string type = m.value("type", "");
                if (type == "snapshot" || type == "patch") {
                    std::string sub = m.value("sub", "");
                    auto it = subs.find(sub);
                    if (it == subs.end()) {
                        fail("a " + type + " for a subscription this connection does not hold: " + text->substr(0, 200));
                        continue;
                    }
                    auto [t, session] = it->second;
                    const spec& sp = specs_[size_t(t->spec)];
                    message msg;
                    msg.session = session;
                    msg.kind = type == "snapshot" ? 'S' : 'P';
                    try {
                        msg.pos = std::stoll(m.at("pos").get<std::string>());
                    } catch (const std::exception&) {
                        fail("a " + type + " whose pos is not a decimal string: " + text->substr(0, 200));
                        continue;
                    }
                    if (m.value("topic", "") != tables()[size_t(sp.table)].topic)
                        fail("a " + type + " of s" + std::to_string(t->spec) + " names topic " + m.value("topic", ""));
                    if (msg.kind == 'P' && !m.contains("ts"))
                        fail("a patch without ts: " + text->substr(0, 200));
                    if (msg.kind == 'P' && m.contains("from")) {
                        try {
                            msg.from = std::stoll(m.at("from").get<std::string>());
                        } catch (const std::exception&) {
                            fail("a catch-up patch whose from is not a decimal string: " + text->substr(0, 200));
                        }
                    }
                    msg.body = msg.kind == 'S' ? m.value("rows", json()) : m.value("patch", json());
                    std::lock_guard<std::mutex> g(t->mutex);
                    try {
                        if (msg.kind == 'S') t->state = msg.body;
                        else if (!t->apply_failed) t->state.patch_inplace(msg.body);
                        if (msg.kind == 'S') t->apply_failed = false;
                    } catch (const std::exception&) {
                        t->apply_failed = true;
                    }
                    t->pos = msg.pos;
                    t->live = true;
                    t->msgs.push_back(std::move(msg));
                } else if (type == "subscribed") {
                    // A resume with nothing to send gets no snapshot and no patch: live from here.
                    auto it = subs.find(m.value("sub", ""));
                    if (it != subs.end()) {
                        std::lock_guard<std::mutex> g(it->second.first->mutex);
                        it->second.first->live = it->second.first->pos >= 0;
                    }
                } else if (type == "error") {
                    fail("server error frame on node " + std::to_string(node) + ": " + text->substr(0, 300));
                }
            }
            if (churn && churn_ && std::chrono::steady_clock::now() > end_at) break;
        }
        bool open = !ws->closed() && !broken;
        if (stop_ && open) continue;  // tracks stay live: the connection was open at the end
        for (auto& [name, ts] : subs) {
            std::lock_guard<std::mutex> g(ts.first->mutex);
            ts.first->live = false;
        }
        ws->close();
    }
}

// ---- random subscriptions ----

// features::policies: public.st's policy k=eq.{tenant}, resolved for the spec's token. A random
// stream of its own, so that a seed's other specs are the same with and without the feature.
void add_policy(pqxx::connection_base& conn, spec& s, uint64_t seed) {
    std::mt19937_64 rng(seed * 7919 + uint64_t(s.id) * 31 + 5);
    int roll = int(rng() % 10);
    if (roll < 2) {
        s.admin = true;  // sees every row
        return;
    }
    // A tenant of the st_k domain, or one that looks like filter syntax (it must match nothing but itself).
    s.tenant = roll == 2 ? "a,b" : roll == 3 ? "in.(a,b)" : std::string(1, char('a' + rng() % 5));
    condition c;
    c.col = tables()[ST].index("k");
    c.op = "eq";
    c.literals = {s.tenant};
    c.policy = true;
    pqxx::work w(conn);
    c.canon.push_back(w.exec("select " + canonical_sql(sql_quote(s.tenant) + "::text", col_type::text))[0][0].c_str());
    w.commit();
    s.conds.push_back(std::move(c));
}

std::vector<spec> random_specs(pqxx::connection_base& conn, uint64_t seed, int count, const features& f) {
    std::mt19937_64 rng(seed * 977 + 11);
    value_gen g{rng, f.types, f.zones};
    std::vector<spec> out;
    static const char* const ops[] = {"eq", "neq", "lt", "lte", "gt", "gte", "in", "is"};
    for (int i = 0; i < count; ++i) {
        spec s;
        s.id = i;
        s.table = i % 4 == 3 ? ST : MT;
        const auto& t = tables()[size_t(s.table)];
        std::vector<std::string> filterable = s.table == MT
            ? std::vector<std::string>{"id", "i4", "i8", "num", "f8", "txt", "b", "ts", "grp"}
            : std::vector<std::string>{"k", "n", "v", "q"};
        if (s.table == MT && f.jsonnull) filterable.push_back("j");  // see features::jsonnull
        int nconds = g.pick(10) < 3 ? 0 : 1 + (g.pick(10) < 3);
        for (int k = 0; k < nconds; ++k) {
            condition c;
            c.col = t.index(filterable[size_t(g.pick(int(filterable.size())))]);
            const auto& col = t.cols[size_t(c.col)];
            c.op = ops[g.pick(8)];
            if (col.type == col_type::jsonb) c.op = "is";
            if (col.type == col_type::boolean && c.op != "is") c.op = g.chance(0.5) ? "eq" : "neq";
            if (c.op == "is") {
                c.literals = {"null"};
            } else {
                int n = c.op == "in" ? 1 + g.pick(3) : 1;
                for (int v = 0; v < n; ++v) {
                    std::string lit;
                    if (col.name == "grp" || col.name == "q") lit = std::to_string(g.pick(5));
                    else if (col.name == "n") lit = std::to_string(g.st_n());
                    else if (col.name == "k") lit = g.st_k();
                    else if (col.name == "id") lit = std::to_string(g.mt_id());
                    else lit = g.filter_literal(col.type);
                    c.literals.push_back(lit);
                }
                pqxx::work w(conn);
                for (auto& lit : c.literals)
                    c.canon.push_back(
                        w.exec("select " + canonical_sql(sql_quote(lit) + "::" + sql_type(col.type), col.type))[0][0].c_str());
                w.commit();
            }
            s.conds.push_back(std::move(c));
        }
        if (f.policies && s.table == ST) add_policy(conn, s, seed);  // before aggregation (PROTOCOL §5)
        if (f.aggregates && g.chance(0.3)) {
            random_aggregate(s, g);
            out.push_back(std::move(s));
            continue;
        }
        if (f.windows && g.chance(0.45)) {
            s.limit = 1 + g.pick(8);
            std::vector<std::string> orderable = s.table == MT
                ? std::vector<std::string>{"grp", "f8", "ts", "txt", "num", "i8", "b", "id", "i4"}
                : std::vector<std::string>{"q", "v", "n", "k"};
            int nterms = 1 + (g.pick(10) < 4);
            for (int k = 0; k < nterms; ++k) {
                order_term o;
                o.col = t.index(orderable[size_t(g.pick(int(orderable.size())))]);
                o.desc = g.chance(0.5);
                o.nulls_first = o.desc;
                if (g.chance(0.25)) o.nulls_first = !o.nulls_first;
                s.order.push_back(o);
            }
        }
        out.push_back(std::move(s));
    }
    return out;
}

}  // namespace pglive::model
