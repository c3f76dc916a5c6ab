// listener.h — the capture loop: sequence, read committed transactions in position order, wait for a wake-up.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "config/config.h"
#include "core/change.h"

namespace pglive {

struct listener_options {
    std::string conninfo;
    // Defaults are config.h's (default_config()).
    std::string wakeup = default_config().wakeup;  // "notify": LISTEN pglive; "poll": no NOTIFY, read every poll_interval_ms
    int poll_interval_ms = int(default_config().poll_interval_ms);
    int safety_interval_ms = int(default_config().safety_interval_ms);  // notify mode: read anyway this often
    int batch_transactions = int(default_config().batch_transactions);  // whole transactions per read: bounds memory
};

struct listener_callbacks {
    // Every committed transaction exactly once, in position order, on the listener thread.
    std::function<void(std::vector<transaction>)> on_transactions;
    // The database link went up (why: "connected to user@host:port/db") or down (why: the error).
    std::function<void(bool up, std::string why)> on_link;
    // Retention removed positions from+1..to before they were delivered (seen at a reconnect or
    // while reading): the topics they touched need fresh snapshots. Called before any later
    // transaction; the listener then continues after `to`.
    std::function<void(int64_t from, int64_t to)> on_gap;
    // A sequencer epoch started (pglive.epochs): positions in (durable_before, base) are lost —
    // a crash may have discarded the sequencer commits that handed them out, and the
    // transactions they held come again at new positions >= base. Called once for every epoch
    // (at the first connection: every epoch so far), in epoch order, before any transaction of
    // the new epoch. If this listener delivered a position in the range, the hub's state holds
    // transactions the database lost: it reloads (the hub tells from its own position).
    std::function<void(int64_t durable_before, int64_t base)> on_epoch;
};

// Its own thread and connection (application_name pglive-listener). The link is up once a read
// succeeded on a connection. On any error it reports on_link(false) once per outage, backs off
// (100 ms doubling to 5 s; the backoff starts again only after a link that delivered
// transactions or stayed up 10 s, so a persistent error never flaps fast), reconnects and catches up from the last delivered
// position: nothing lost, nothing twice. It logs each change of state with its reason, and a
// summary a minute while an outage lasts. It never throws out of its thread.
class listener {
public:
    listener(listener_options opts, listener_callbacks cb);
    ~listener();  // stop()
    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;

    // Delivers transactions with position > after; nullopt: after the highest position
    // sequenced when the first connection is made.
    void start(std::optional<int64_t> after = std::nullopt);
    void stop();  // prompt unless the thread is inside a database call; joins
    void wake();  // read now (e.g. right after this node published something)

    int64_t position() const { return position_.load(); }  // last delivered
    bool link_up() const { return link_up_.load(); }
    uint64_t failures() const { return failures_.load(); }  // failed connect-and-serve attempts so far

private:
    void run();
    void serve_connection(bool& was_up);
    void serve(pqxx::connection& conn, bool& was_up);
    // Sequences and hands over everything new; true if there was any. `holding` (notify mode):
    // whether the doorbell lock is held, updated. Held, it is released in the first round trip
    // when there was something (a database without pglive.sequence_read: never, the caller
    // releases it). With `doze` (and not held), the first round trip takes it first
    // (pglive.sequence_read's doze_ms; a database without that form: never, the caller dozes).
    bool read_all(pqxx::connection& conn, bool* holding = nullptr, bool doze = false);
    void report_up();  // after a read succeeded on a new connection: link up, once
    void check_gap(int64_t pruned_upto);  // on_gap when retention passed position_
    void check_epoch(pqxx::connection& conn, int64_t epoch);  // on_epoch for each epoch above known_epoch_
    bool wait(int fd, int timeout_ms);  // true when fd (if >= 0) is readable; false on timeout or wake
    void drain_wake();

    listener_options opts_;
    listener_callbacks cb_;
    std::thread thread_;
    int wake_fd_ = -1;  // eventfd: stop() and wake() interrupt the wait
    std::atomic<bool> stopping_{false};
    std::atomic<bool> link_up_{false};
    std::atomic<int64_t> position_{0};
    std::atomic<uint64_t> failures_{0};
    // thread-only:
    std::chrono::steady_clock::time_point up_since_{};  // when the link last came up
    std::string up_pending_;  // a new connection's description until its first read succeeds
    bool* was_up_ = nullptr;  // run()'s flag for the connection being served
    bool position_known_ = false;  // thread-only after start()
    int64_t known_epoch_ = -1;     // thread-only: the last epoch reported by on_epoch (-1: none yet)
    bool one_trip_ = false;        // thread-only: this connection's database has pglive.sequence_read
    bool doze_in_pass_ = false;    // thread-only: ... and its form with doze_ms
};

}  // namespace pglive
