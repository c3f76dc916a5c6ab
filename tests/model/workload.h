// workload.h — concurrent writers with random multi-statement transactions, and the features switch.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

namespace pglive::model {

// PGLIVE_MODEL_FEATURES: a comma list, "all" (the default) or "none"; "-x" removes x.
struct features {
    bool types = true;      // extreme values: bigint beyond 2^53, 30+ digit numeric, NaN/±Infinity, unicode, JSON null
    bool zones = true;      // timestamptz written from sessions in other time zones and with offsets
    bool faults = true;     // serve killed -9 and restarted
    bool pgrestart = true;  // PostgreSQL restarted, fast and immediate shutdown
    bool truncate = true;   // TRUNCATE now and then
    bool windows = true;    // subscriptions with limit + order
    bool resume = true;     // clients disconnect and resume with since
    bool nodes = true;      // a second serve node on the same database
    bool retention = true;  // a small retention and history, so resumes reach past them
    bool jsonnull = true;   // `is.null` on the jsonb column (SQL NULL, not a JSON null)
    bool aggregates = true; // some subscriptions are aggregate subscriptions (group/aggregate, PROTOCOL §5)
    bool policies = true;   // public.st has the row policy k=eq.{tenant}; its subscribers carry tenant claims
    static features parse(const std::string& text);
    std::string text() const;
};

struct tx_record {
    std::string xid;
    std::string tag;     // "w<writer>-<n>", written into the audit rows (xids are reused after a crash)
    std::string sql;     // every statement sent, in order
    // C committed, A rolled back or failed, L connection lost before COMMIT, ? the commit's answer
    // was lost; resolve_unknown turns ? into c (audit rows carry the tag: committed) or n (none:
    // not committed, or committed with no row changed).
    char outcome = '?';
    int writer = 0;
};

class workload {
public:
    workload(std::string conninfo, uint64_t seed, int writers, int total_tx, double seconds, features f);
    ~workload();
    void start();
    void stop();  // stops and joins the writers
    int attempted() const { return next_.load(); }
    bool done() const { return finished_.load() == writers_; }
    // Asks PostgreSQL (pg_xact_status) for every transaction whose commit answer was lost.
    void resolve_unknown(pqxx::connection_base& conn);
    const std::vector<tx_record>& records() const { return records_; }  // after stop()
    std::map<std::string, const tx_record*> by_xid() const;
    std::string summary() const;
    std::vector<std::string> errors() const;

private:
    void run(int w);
    std::string conninfo_;
    uint64_t seed_;
    int writers_, total_;
    double rate_;  // transactions per second, all writers together
    features f_;
    std::atomic<int> next_{0}, finished_{0};
    std::atomic<bool> stop_{false};
    std::vector<std::thread> threads_;
    mutable std::mutex mutex_;
    std::vector<tx_record> records_;   // guarded by mutex_
    std::vector<std::string> errors_;  // guarded by mutex_
    int reconnects_ = 0;               // guarded by mutex_
};

}  // namespace pglive::model
