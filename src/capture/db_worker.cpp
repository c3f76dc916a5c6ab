// db_worker.cpp — the job queue, the connection (re)opening and the async wrappers of admin.h.
#include "capture/db_worker.h"

#include <poll.h>

#include <chrono>

#include "capture/admin.h"
#include "capture/hub_reads.h"
#include "capture/db.h"
#include "core/log.h"
#include "core/text.h"

namespace pglive {

db_worker::db_worker(std::string conninfo, std::string role)
    : conninfo_(std::move(conninfo)), role_(std::move(role)) {
    thread_ = std::thread([this] { run(); });
}

db_worker::~db_worker() { stop(); }

void db_worker::stop() {
    std::deque<job> dropped;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    {
        std::lock_guard lock(mutex_);
        dropped.swap(queue_);
    }
    for (auto& j : dropped) j.fail("db worker stopped");
}

void db_worker::post(job j) {
    {
        std::lock_guard lock(mutex_);
        if (!stopping_) {
            queue_.push_back(std::move(j));
            cv_.notify_one();
            return;
        }
    }
    j.fail("db worker stopped");
}

void db_worker::run() {
    for (;;) {
        job j;
        {
            std::unique_lock lock(mutex_);
            cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
            j = std::move(queue_.front());
            queue_.pop_front();
        }
        run_one(j);
    }
}

namespace {

// An idle worker connection (no LISTEN, no query in flight) has nothing to read unless the
// server is telling it goodbye: pg_terminate_backend, a shutdown or a crash leave a FATAL
// message and an EOF in the socket, which libpq only notices when the next query is sent (and
// libpqxx then words as "Could not obtain client encoding"). Looking costs one poll(2).
bool closed_while_idle(pqxx::connection& c) {
    int fd = c.sock();
    if (fd < 0) return true;
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
}

std::string one_line(const std::string& s) {
    std::string l = first_line(s);
    return l.empty() ? "database error" : l;
}

}  // namespace

void db_worker::ensure_connection() {
    if (conn_ && conn_->is_open() && closed_while_idle(*conn_)) {
        log_info("db-" + role_ + ": the server closed the idle connection; reconnecting before the next job");
        conn_.reset();
    }
    if (conn_ && conn_->is_open()) return;
    conn_.reset();
    if (std::chrono::steady_clock::now() < next_attempt_) throw std::runtime_error(last_error_);
    try {
        conn_ = open_connection(conninfo_, role_);
        backoff_.reset();
    } catch (const std::exception& e) {
        last_error_ = std::string("database unreachable: ") + e.what();
        while (!last_error_.empty() && last_error_.back() == '\n') last_error_.pop_back();
        log_warn("db-" + role_ + ": " + last_error_ + "; next attempt in " + std::to_string(backoff_.peek()) + " ms");
        next_attempt_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(backoff_.next());
        throw std::runtime_error(last_error_);
    }
}

void db_worker::run_one(job& j) {
    std::function<void()> answer;
    std::string error;
    for (int attempt = 1; attempt <= 2; ++attempt) {
        bool reused = false;  // a failure on a connection opened for this job is no stale link
        try {
            reused = conn_ && conn_->is_open();
            ensure_connection();
            answer = j.work(*conn_);
            break;
        } catch (const std::exception& e) {
            error = e.what();
            if (error.empty()) error = "database error";
            bool lost = conn_ && !conn_->is_open();
            if (lost) conn_.reset();
            // Only a job that writes nothing runs again: a write may have committed before the
            // link went (the idle case, where nothing was sent, is handled by ensure_connection).
            if (lost && reused && j.read_only && attempt == 1) {
                log_info("db-" + role_ + ": connection lost during a read (" + one_line(error) + "); retrying once");
                continue;
            }
            break;
        }
    }
    try {
        if (answer) answer();
        else j.fail(error);
    } catch (const std::exception& e) {
        log_error("db-" + role_ + ": a job's callback threw: " + e.what());
    }
}

void db_worker::load_topic(std::string topic, std::function<void(topic_load)> cb) {
    post({[topic, cb](pqxx::connection_base& c) -> std::function<void()> {
              auto load = std::make_shared<topic_load>(pglive::load_topic(c, topic));
              return [cb, load] { cb(std::move(*load)); };
          },
          [topic, cb](const std::string& err) {
              topic_load l;
              l.info.topic = topic;
              l.error = err;
              l.transient = true;  // a database error, not "no such topic": the hub retries
              cb(std::move(l));
          },
          true});
}

void db_worker::read_history(std::string topic, int64_t after, int64_t upto, int max_tx,
                             std::function<void(history_result)> cb) {
    post({[=](pqxx::connection_base& c) -> std::function<void()> {
              auto h = std::make_shared<history_result>(pglive::read_history(c, topic, after, upto, max_tx));
              return [cb, h] { cb(std::move(*h)); };
          },
          [cb](const std::string& err) {
              history_result h;
              h.complete = false;
              h.error = err;
              cb(std::move(h));
          },
          true});
}

void db_worker::list_topics(std::function<void(std::vector<topic_info>, std::string)> cb) {
    post({[cb](pqxx::connection_base& c) -> std::function<void()> {
              auto t = std::make_shared<std::vector<topic_info>>(pglive::list_topics(c));
              return [cb, t] { cb(std::move(*t), ""); };
          },
          [cb](const std::string& err) { cb({}, err); },
          true});
}

void db_worker::publish(std::string topic, json data, std::function<void(std::string)> cb) {
    post({[topic, data, cb](pqxx::connection_base& c) -> std::function<void()> {
              pglive::publish(c, topic, data);
              return [cb] { cb(""); };
          },
          [cb](const std::string& err) { cb(err); }});
}

void db_worker::prune(int64_t age_seconds, int64_t max_count, std::function<void(int64_t, std::string)> cb) {
    prune(age_seconds, max_count, 30, std::move(cb));
}

void db_worker::beat(std::string node_id, int64_t delivered, std::function<void(std::string)> cb) {
    post({[=](pqxx::connection_base& c) -> std::function<void()> {
              pglive::beat(c, node_id, delivered);
              return [cb] { cb(""); };
          },
          [cb](const std::string& err) { cb(err); }});
}

void db_worker::prune(int64_t age_seconds, int64_t max_count, int64_t node_timeout_s,
                      std::function<void(int64_t, std::string)> cb) {
    post({[=](pqxx::connection_base& c) -> std::function<void()> {
              int64_t n = pglive::prune(c, age_seconds, max_count, node_timeout_s);
              return [cb, n] { cb(n, ""); };
          },
          [cb](const std::string& err) { cb(0, err); }});
}

void db_worker::attach(std::string table, std::vector<std::string> key, std::vector<std::string> columns,
                       std::vector<std::string> exclude, std::optional<std::string> policy,
                       std::function<void(topic_info, std::string)> cb) {
    post({[=](pqxx::connection_base& c) -> std::function<void()> {
              auto t = std::make_shared<topic_info>(pglive::attach(c, table, key, columns, exclude, policy));
              return [cb, t] { cb(std::move(*t), ""); };
          },
          [cb](const std::string& err) { cb({}, err); }});
}

void db_worker::detach(std::string table, std::function<void(std::string)> cb) {
    post({[table, cb](pqxx::connection_base& c) -> std::function<void()> {
              pglive::detach(c, table);
              return [cb] { cb(""); };
          },
          [cb](const std::string& err) { cb(err); }});
}

void db_worker::status(std::function<void(json)> cb) {
    post({[cb](pqxx::connection_base& c) -> std::function<void()> {
              auto s = std::make_shared<json>(pglive::status(c));
              return [cb, s] { cb(std::move(*s)); };
          },
          [cb](const std::string& err) { cb(json{{"error", err}}); },
          true});
}

}  // namespace pglive
