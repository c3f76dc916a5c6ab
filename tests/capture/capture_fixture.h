// capture_fixture.h — the capture suite's shared cluster, connections, and a listener that records deliveries.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "capture/admin.h"
#include "capture/hub_reads.h"
#include "pgtmp/cluster.h"
#include "capture/db.h"
#include "capture/listener.h"
#include "core/change.h"

namespace pglive::test {

// One PostgreSQL for the whole process, with the schema installed.
inline cluster& pg() {
    static std::unique_ptr<cluster> c = [] {
        cluster::options o;
        o.settings = {"fsync=off", "max_connections=60"};
        auto p = std::make_unique<cluster>(o);
        p->start();
        auto conn = open_connection(p->conninfo(), "test");
        install_schema(*conn);
        return p;
    }();
    return *c;
}

inline std::unique_ptr<pqxx::connection> connect(const std::string& role = "test") {
    return open_connection(pg().conninfo(), role);
}

inline void exec(pqxx::connection_base& c, const std::string& sql) {
    pqxx::work w(c);
    w.exec(sql);
    w.commit();
}

// Polls `done` until it holds or the deadline passes; returns whether it held.
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds within = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + within;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling with a deadline
    }
    return true;
}

// A listener whose deliveries are kept for inspection.
class recorder {
public:
    explicit recorder(listener_options o = {}, std::optional<int64_t> after = std::nullopt) {
        if (o.conninfo.empty()) o.conninfo = pg().conninfo();
        listener_callbacks cb;
        cb.on_transactions = [this](std::vector<transaction> txs) {
            std::lock_guard lock(mutex_);
            for (auto& t : txs) txs_.push_back(std::move(t));
        };
        cb.on_link = [this](bool up, std::string why) {
            std::lock_guard lock(mutex_);
            (up ? ups_ : downs_)++;
        };
        cb.on_gap = [this](int64_t from, int64_t to) {
            std::lock_guard lock(mutex_);
            gaps_.emplace_back(from, to);
        };
        cb.on_epoch = [this](int64_t durable_before, int64_t base) {
            std::lock_guard lock(mutex_);
            epochs_.emplace_back(durable_before, base);
        };
        listener_ = std::make_unique<listener>(o, cb);
        listener_->start(after);
        EXPECT_TRUE(eventually([this] { return listener_->link_up(); })) << "listener never connected";
    }
    ~recorder() { listener_->stop(); }

    std::vector<transaction> txs() const {
        std::lock_guard lock(mutex_);
        return txs_;
    }
    // Transactions holding at least one change of `topic`, only those changes kept.
    std::vector<transaction> of(const std::string& topic) const {
        std::vector<transaction> out;
        for (auto t : txs()) {
            std::vector<change> keep;
            for (auto& c : t.changes)
                if (c.topic == topic) keep.push_back(c);
            if (keep.empty()) continue;
            t.changes = std::move(keep);
            out.push_back(std::move(t));
        }
        return out;
    }
    std::vector<std::pair<int64_t, int64_t>> gaps() const {
        std::lock_guard lock(mutex_);
        return gaps_;
    }
    // on_epoch's (durable_before, base): positions between them were lost in a crash.
    std::vector<std::pair<int64_t, int64_t>> epochs() const {
        std::lock_guard lock(mutex_);
        return epochs_;
    }
    // Transactions of `topic` as the database keeps them: those delivered at a position a crash
    // lost (on_epoch) came again at new positions, or were lost with it.
    std::vector<transaction> durable_of(const std::string& topic) const {
        auto lost = epochs();
        std::vector<transaction> out;
        for (auto& t : of(topic)) {
            bool gone = false;
            for (auto& [d, b] : lost) gone = gone || (d < t.position && t.position < b);
            if (!gone) out.push_back(std::move(t));
        }
        return out;
    }
    int downs() const {
        std::lock_guard lock(mutex_);
        return downs_;
    }
    int ups() const {
        std::lock_guard lock(mutex_);
        return ups_;
    }
    listener& get() { return *listener_; }

    // Waits until everything sequenced so far (by a sequencer run now) has been delivered.
    bool caught_up(std::chrono::milliseconds within = std::chrono::seconds(30)) {
        auto c = connect();
        pqxx::work w(*c);
        w.exec("select pglive.sequence()");
        w.commit();
        pqxx::nontransaction n(*c);
        int64_t top = n.exec("select coalesce(max(position), 0) from pglive.tx")[0][0].as<int64_t>();
        return eventually([&] { return listener_->position() >= top; }, within);
    }

private:
    mutable std::mutex mutex_;
    std::vector<transaction> txs_;
    int ups_ = 0, downs_ = 0;
    std::vector<std::pair<int64_t, int64_t>> gaps_;
    std::vector<std::pair<int64_t, int64_t>> epochs_;
    std::unique_ptr<listener> listener_;
};

// Applies a topic's changes onto a state keyed by the row's key (as json array text).
inline std::string row_key(const json& row, const std::vector<std::string>& key) {
    json k = json::array();
    for (const auto& c : key) k.push_back(row.at(c));
    return k.dump();
}

inline void apply(std::map<std::string, json>& state, const change& c, const std::vector<std::string>& key) {
    switch (c.op) {
        case op_kind::insert: state[row_key(c.new_row, key)] = c.new_row; break;
        case op_kind::update:
            state.erase(row_key(c.old_row, key));
            state[row_key(c.new_row, key)] = c.new_row;
            break;
        case op_kind::remove: state.erase(row_key(c.old_row, key)); break;
        case op_kind::truncate: state.clear(); break;
        default: break;
    }
}

inline std::map<std::string, json> table_state(pqxx::connection_base& conn, const std::string& table,
                                               const std::vector<std::string>& key) {
    std::map<std::string, json> out;
    pqxx::nontransaction n(conn);
    for (const auto& r : n.exec("select to_jsonb(t)::text from " + table + " t")) {
        json row = json::parse(r[0].c_str());
        out[row_key(row, key)] = row;
    }
    return out;
}

}  // namespace pglive::test
