// db_worker.h — one thread and one connection running database jobs (loads, history, admin) in order.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "core/backoff.h"
#include "core/change.h"
#include "core/topic.h"

namespace pglive {

// Callbacks run on the worker thread (the caller posts them where it needs them). Every job
// gets exactly one answer: a failed job answers with an error, never hangs. A lost connection
// is reopened for the next job (not sooner than a backoff of 100 ms doubling to 5 s; jobs in
// that window fail at once with the last connection error).
//
// A connection the server closed while it sat idle (a terminated backend, a restart) is noticed
// before the next job is sent and reopened first, so that job runs normally. A connection lost
// during a job is retried once on a new connection only for jobs that write nothing (loads,
// history, topics, status): a write may have committed, so it answers with the error instead.
class db_worker {
public:
    db_worker(std::string conninfo, std::string role);  // application_name pglive-<role>
    ~db_worker();  // stop()
    db_worker(const db_worker&) = delete;
    db_worker& operator=(const db_worker&) = delete;

    void load_topic(std::string topic, std::function<void(topic_load)> cb);
    // upto < 0: no upper bound.
    void read_history(std::string topic, int64_t after, int64_t upto, int max_tx,
                      std::function<void(history_result)> cb);
    void list_topics(std::function<void(std::vector<topic_info>, std::string error)> cb);
    void publish(std::string topic, json data, std::function<void(std::string error)> cb);
    // age_seconds / max_count <= 0 disable that bound.
    void prune(int64_t age_seconds, int64_t max_count, std::function<void(int64_t removed, std::string error)> cb);
    // node_timeout_s: a node that has not beat for this long no longer holds retention.
    void prune(int64_t age_seconds, int64_t max_count, int64_t node_timeout_s,
               std::function<void(int64_t removed, std::string error)> cb);
    void beat(std::string node_id, int64_t delivered, std::function<void(std::string error)> cb);
    void attach(std::string table, std::vector<std::string> key, std::vector<std::string> columns,
                std::vector<std::string> exclude, std::optional<std::string> policy,  // admin.h attach
                std::function<void(topic_info, std::string error)> cb);
    void detach(std::string table, std::function<void(std::string error)> cb);
    void status(std::function<void(json)> cb);  // on failure: {"error": "..."}

    // Jobs still queued answer with "db worker stopped"; the running one finishes first.
    void stop();

private:
    // `work` runs on the connection and returns the answer to deliver; `fail` answers instead
    // when the job cannot run or throws.
    struct job {
        std::function<std::function<void()>(pqxx::connection_base&)> work;
        std::function<void(const std::string&)> fail;
        bool read_only = false;  // safe to run again after a connection lost mid-job
    };
    void post(job j);
    void run();
    void run_one(job& j);
    void ensure_connection();  // thread-only: reopens a missing, closed or server-closed connection

    std::string conninfo_;
    std::string role_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<job> queue_;  // guarded by mutex_
    bool stopping_ = false;  // guarded by mutex_
    std::thread thread_;
    // thread-only:
    std::unique_ptr<pqxx::connection> conn_;
    std::string last_error_;
    std::chrono::steady_clock::time_point next_attempt_{};
    backoff backoff_;
};

}  // namespace pglive
