// listener.cpp — the listener thread: connect, LISTEN, sequence + read batches, wait on the socket, reconnect.
#include "capture/listener.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>

#include <pqxx/pqxx>

#include "capture/db.h"
#include "capture/outbox.h"
#include "core/backoff.h"
#include "core/latency_histogram.h"
#include "core/log.h"
#include "core/text.h"

namespace pglive {

namespace {

// How long a listener about to sleep waits for writers that skipped the NOTIFY (pglive.doze).
constexpr int doze_wait_ms = 20;

// The payload is constant; a notification only means "read now".
class wake_receiver : public pqxx::notification_receiver {
public:
    wake_receiver(pqxx::connection_base& c) : pqxx::notification_receiver(c, "pglive") {}
    void operator()(const std::string&, int) override {}
};

}  // namespace

listener::listener(listener_options opts, listener_callbacks cb) : opts_(std::move(opts)), cb_(std::move(cb)) {
    if (opts_.wakeup != "notify" && opts_.wakeup != "poll")
        throw std::invalid_argument("listener: wakeup must be \"notify\" or \"poll\", not \"" + opts_.wakeup + "\"");
    if (opts_.batch_transactions < 1) throw std::invalid_argument("listener: batch_transactions must be >= 1");
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) throw std::runtime_error(std::string("listener: eventfd: ") + std::strerror(errno));
}

listener::~listener() {
    stop();
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

void listener::start(std::optional<int64_t> after) {
    if (thread_.joinable()) return;
    stopping_ = false;
    if (after) {
        position_ = *after;
        position_known_ = true;
    }
    thread_ = std::thread([this] { run(); });
}

void listener::stop() {
    stopping_ = true;
    wake();
    if (thread_.joinable()) thread_.join();
}

void listener::wake() {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void listener::drain_wake() {
    uint64_t v;
    while (::read(wake_fd_, &v, sizeof v) > 0) {
    }
}

bool listener::wait(int fd, int timeout_ms) {
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {fd, POLLIN, 0}};
    int r = ::poll(fds, fd >= 0 ? 2 : 1, timeout_ms);
    if (r > 0 && (fds[0].revents & POLLIN)) drain_wake();
    return r > 0 && fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR));
}

void listener::run() {
    using clock = std::chrono::steady_clock;
    // The link is up once a read succeeded (serve reports it). The backoff grows across
    // outages and starts again only after a link was healthy: it delivered transactions, or
    // stayed up for healthy_reset. A persistent error that lets a read through now and then
    // still backs off to 5 s; a link killed while it streams comes back at once.
    constexpr auto healthy_reset = std::chrono::seconds(10);
    constexpr auto summary_every = std::chrono::seconds(60);
    bool was_up = false;
    bool reported_down = false;  // on_link(false) sent for the current outage
    backoff delay;
    uint64_t attempts = 0;  // failed attempts in the current outage
    clock::time_point down_since{}, last_summary{};
    while (!stopping_) {
        std::string why;
        int64_t position_before = position_;
        try {
            serve_connection(was_up);
            return;  // only returns when stopping
        } catch (const std::exception& e) {
            why = first_line(e.what());
        } catch (...) {
            // Only a callback can throw a non-std exception; the thread must live on regardless.
            why = "a callback threw a non-standard exception";
        }
        link_up_ = false;
        up_pending_.clear();
        auto now = clock::now();
        if (was_up) {
            if (position_ > position_before || now - up_since_ >= healthy_reset) delay.reset();  // a fresh outage
            reported_down = false;
            attempts = 0;
        }
        was_up = false;
        ++attempts;
        ++failures_;
        if (!reported_down) {
            reported_down = true;
            down_since = last_summary = now;
            log_warn("listener: database link down: " + why + "; reconnecting in " + std::to_string(delay.peek()) +
                     " ms (backoff doubling to 5 s)");
            try {
                if (cb_.on_link) cb_.on_link(false, why);
            } catch (const std::exception& e2) {
                log_error(std::string("listener: on_link failed: ") + e2.what());
            } catch (...) {
                log_error("listener: on_link threw a non-standard exception");
            }
        } else if (now - last_summary >= summary_every) {
            last_summary = now;
            auto secs = std::chrono::duration_cast<std::chrono::seconds>(now - down_since).count();
            log_warn("listener: still down after " + std::to_string(attempts) + " attempts in " + std::to_string(secs) +
                     " s: " + why);
        }
        if (stopping_) return;
        wait(-1, int(delay.next()));
    }
}

void listener::serve_connection(bool& was_up) {
    std::unique_ptr<pqxx::connection> conn = open_connection(opts_.conninfo, "listener");
    try {
        serve(*conn, was_up);
    } catch (const std::exception& e) {
        // libpqxx words a dropped link after the fact ("Could not obtain client encoding");
        // say plainly that the connection is gone.
        if (!conn->is_open()) throw std::runtime_error(std::string("connection lost: ") + e.what());
        throw;
    }
}

void listener::serve(pqxx::connection& conn, bool& was_up) {
    std::unique_ptr<wake_receiver> receiver;
    if (opts_.wakeup == "notify") receiver = std::make_unique<wake_receiver>(conn);
    prepare_outbox_reads(conn);
    one_trip_ = has_sequence_read(conn);  // a schema older than this binary: two round trips a pass
    doze_in_pass_ = one_trip_ && has_dozing_sequence_read(conn);  // ... or a doze of its own before sleeping
    if (!position_known_) {
        run_sequencer(conn);
        pqxx::nontransaction n(conn);
        // Not below what retention removed (max(position) is 0 once every transaction was pruned):
        // a start is no gap.
        position_ = n.exec("select greatest((select coalesce(max(position), 0) from pglive.tx), "
                           "(select pruned_upto from pglive.state))")[0][0].as<int64_t>();
        position_known_ = true;
    }
    // Every epoch so far, once: a crash between the start position's read and this connection
    // may have lost positions up to it (the hub tells from its position).
    if (known_epoch_ < 0) check_epoch(conn, std::numeric_limits<int64_t>::max());
    // Up only once a read went through (read_all reports it after its first batch): a
    // connection whose queries fail (a revoked right, a full disk) is no link, and /healthz
    // must not say 200 while nothing is delivered.
    up_pending_ = "connected to " + describe_conninfo(conn);
    was_up_ = &was_up;

    if (!receiver) {
        while (!stopping_) {
            read_all(conn);
            if (wait(conn.sock(), opts_.poll_interval_ms)) conn.get_notifs();  // throws when the server closed the link
        }
        return;
    }
    // Notify mode with a doorbell (pglive.sql, install_capture): writers NOTIFY only while a
    // listener holds the doorbell lock, which it takes just before sleeping. While commits keep
    // coming the listener reads without sleeping, and writers skip the NOTIFY (and the commit
    // lock every notifying transaction holds through its WAL flush).
    bool holding = false;  // the doorbell lock (session level: taken once, released once)
    bool doze = false;     // the last pass found nothing: the next takes the doorbell, then reads
    auto release = [&] {
        if (!holding) return;
        pqxx::nontransaction n(conn);
        n.exec_prepared("pglive_release_doorbell");
        holding = false;
    };
    while (!stopping_) {
        if (read_all(conn, &holding, doze)) {
            release();  // busy (if the pass did not release it): read again at once; writers need not ring
            doze = false;
            continue;
        }
        if (!holding) {
            // Takes the doorbell, waiting for writers that skipped the NOTIFY to commit, then
            // reads once more: any commit after this point rings. Not granted (another node's
            // listener sleeps with it, or a long transaction holds it shared): read again and
            // retry. In one round trip where the database's sequence_read has doze_ms.
            if (doze_in_pass_) {
                doze = true;
                continue;
            }
            pqxx::nontransaction n(conn);
            holding = n.exec_prepared("pglive_doze", doze_wait_ms)[0][0].as<bool>();
            continue;
        }
        doze = false;
        // Notifications that arrived during the reads are already in libpq's buffer, where
        // poll() on the socket would not see them.
        if (conn.get_notifs() == 0 && wait(conn.sock(), opts_.safety_interval_ms))
            conn.get_notifs();  // throws when the server closed the link
        // Still holding the doorbell: the read comes first, and the release after it finds
        // something (a wake-up that finds nothing sleeps again without one).
    }
}

void listener::report_up() {
    if (up_pending_.empty()) return;
    std::string why = std::move(up_pending_);
    up_pending_.clear();
    link_up_ = true;
    if (was_up_) *was_up_ = true;
    up_since_ = std::chrono::steady_clock::now();
    log_info("listener: database link up: " + why);
    if (cb_.on_link) cb_.on_link(true, why);
}

void listener::check_gap(int64_t pruned_upto) {
    if (pruned_upto <= position_) return;
    int64_t from = position_;
    log_warn("listener: retention removed positions " + std::to_string(from + 1) + ".." + std::to_string(pruned_upto) +
             " before they were delivered; the topics they touched get fresh snapshots");
    if (cb_.on_gap) cb_.on_gap(from, pruned_upto);
    position_ = pruned_upto;  // every position up to it is gone: nothing there can be delivered
}

void listener::check_epoch(pqxx::connection& conn, int64_t epoch) {
    if (epoch == known_epoch_) return;
    for (const auto& e : read_epochs_after(conn, std::max<int64_t>(known_epoch_, 0))) {
        if (e.durable_before < position_ && position_ < e.base)
            log_warn("listener: the database lost sequencer commits in a crash: positions " +
                     std::to_string(e.durable_before + 1) + ".." + std::to_string(position_) +
                     " were delivered but no longer exist; epoch " + std::to_string(e.epoch) + " starts at " +
                     std::to_string(e.base) + ", every loaded topic gets a fresh snapshot");
        if (cb_.on_epoch) cb_.on_epoch(e.durable_before, e.base);
        known_epoch_ = e.epoch;
    }
    if (known_epoch_ < 0) known_epoch_ = 0;  // no epoch yet (the sequencer has not run since install)
}

bool listener::read_all(pqxx::connection& conn, bool* holding, bool doze) {
    // Retention ran past what this listener delivered (it was away, or behind, longer than
    // retention allowed): checked at each read, and again by each batch's own snapshot, so a
    // prune between the two is seen too.
    //
    // The first batch comes with the sequencer run in one round trip where the database has
    // pglive.sequence_read (a pass is then one statement, not two: the wait of a commit for
    // the listener to come round is half a pass).
    std::optional<sequenced_batch> first;
    sequencer_run run;
    if (one_trip_) {
        bool held = holding && *holding;
        std::optional<int> doze_ms;
        if (holding && doze && !held && doze_in_pass_) doze_ms = doze_wait_ms;
        first = sequence_and_read(conn, position_, opts_.batch_transactions, held, doze_in_pass_, doze_ms);
        run = first->run;
        if (holding) *holding = first->doorbell && first->batch.empty();  // released when the batch is not empty
    } else {
        run = run_sequencer_reading_pruned(conn);
    }
    int64_t sequenced_us = wall_now_us();  // the stage timings (hub's /metrics)
    check_gap(run.pruned_upto);
    check_epoch(conn, run.epoch);  // an early hint (its snapshot predates this run); each batch checks again
    bool any = false;
    while (!stopping_) {
        int64_t pruned = 0, epoch = known_epoch_;
        std::vector<transaction> batch;
        if (first) {
            batch = std::move(first->batch);
            pruned = first->batch_pruned_upto;
            if (!batch.empty()) epoch = first->batch_epoch;
            first.reset();
        } else {
            batch = read_batch(conn, position_, opts_.batch_transactions, &pruned, &epoch);
        }
        int64_t read_us = wall_now_us();
        for (auto& tx : batch) {
            tx.sequenced_us = sequenced_us;
            tx.read_us = read_us;
        }
        report_up();
        if (!batch.empty()) check_gap(pruned);
        // The batch's own snapshot: a new epoch's positions are visible only with its epoch, so
        // on_epoch always comes before the first of them.
        if (!batch.empty()) check_epoch(conn, epoch);
        if (batch.empty()) break;
        any = true;
        int64_t last = batch.back().position;
        bool full = batch.size() >= size_t(opts_.batch_transactions);
        if (cb_.on_transactions) cb_.on_transactions(std::move(batch));
        position_ = last;
        if (!full) break;  // everything sequenced above was in it
    }
    return any;
}

}  // namespace pglive
