// app.cpp — wires the stages: the listener's transactions and the workers' answers reach the
// hub only by post() onto its strand; the network never waits on the database.
#include "server/app.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <random>
#include <algorithm>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "capture/admin.h"
#include "capture/hub_reads.h"
#include "capture/db.h"
#include "capture/db_worker.h"
#include "capture/listener.h"
#include "capture/outbox.h"
#include "config/dashboard_dir.h"
#include "core/backoff.h"
#include "core/log.h"
#include "core/text.h"
#include "net/hub_feed.h"
#include "net/hub_runner.h"
#include "net/server.h"
#include "server/app_metrics.h"
#include "server/options.h"

namespace pglive {

namespace asio = boost::asio;

namespace {

int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// This serve's row in pglive.nodes: host, pid and a random part (a restarted node is a new one).
std::string make_node_id() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) host[0] = 0;
    std::random_device rd;
    char tail[16];
    snprintf(tail, sizeof tail, "%08x", unsigned(rd()));
    return std::string(host[0] ? host : "node") + ":" + std::to_string(::getpid()) + ":" + tail;
}

}  // namespace

struct app::impl {
    config cfg;
    asio::io_context io;
    std::unique_ptr<hub_runner> runner;
    std::unique_ptr<listener> capture;
    std::unique_ptr<hub_feed> feed;  // the listener's stream into the hub (bounded, paced by the connections)
    std::atomic<server*> net_for_feed{nullptr};  // m.net once it exists: the feed's pressure
    std::unique_ptr<db_worker> loader;     // snapshots and history: may be slow
    std::unique_ptr<db_worker> admin;      // publish, topics, prune, status: quick
    std::unique_ptr<server> net;
    std::unique_ptr<asio::steady_timer> tick_timer;
    uint64_t ticks = 0;  // io thread (the tick timer's handler) only
    std::unique_ptr<asio::steady_timer> prune_timer;
    std::unique_ptr<asio::steady_timer> beat_timer;
    std::string node_id = make_node_id();
    int64_t beat_position = -1;  // io thread only: the last position sent, and when
    int64_t beat_ms = 0;
    std::atomic<bool> stopping{false};
    std::atomic<bool> link_up{false};
    std::atomic<uint64_t> link_downs{0};
    std::atomic<size_t> topics{0};
    mutable std::mutex mutex_;
    std::condition_variable link_changed;  // with mutex_: start() waits for the first link-up
    std::string link_reason = "not connected yet";  // guarded by mutex_
    hub_stats stats_copy;                         // guarded by mutex_; refreshed on the hub strand
    pipeline_timings timings;                     // observed by the hub and the connections (atomics)
    json last_status;                             // guarded by mutex_; outbox size, lag

    explicit impl(config c) : cfg(std::move(c)) {}

    void set_link(bool up, const std::string& why) {
        {
            std::lock_guard<std::mutex> g(mutex_);
            if (link_up && !up) ++link_downs;
            link_up = up;
            link_reason = why;
        }
        link_changed.notify_all();
    }

    std::pair<bool, std::string> health() const {
        std::lock_guard<std::mutex> g(mutex_);
        return {link_up.load(), link_reason};
    }

    // Waits for the database at start-up, like the listener does later: log, back off, retry.
    std::unique_ptr<pqxx::connection> connect_with_backoff() {
        backoff delay;
        for (int attempt = 1;; ++attempt) {
            try {
                return open_connection(cfg.db, "admin");
            } catch (const std::exception& e) {
                if (stopping) throw startup_error("stopped while waiting for the database");
                log_warn("database not reachable (attempt " + std::to_string(attempt) + "): " + first_line(e.what()) +
                         "; retrying in " + std::to_string(delay.peek()) + " ms");
                std::this_thread::sleep_for(std::chrono::milliseconds(delay.next()));
            }
        }
    }

    void refresh_topics() {
        admin->list_topics([this](std::vector<topic_info> list, std::string error) {
            if (!error.empty()) {
                log_warn("could not list attached tables: " + error);
                return;
            }
            topics = list.size();
            runner->post([list = std::move(list)](hub& h) mutable { h.set_topics(std::move(list)); });
        });
    }

    void schedule_tick() {
        tick_timer->expires_after(std::chrono::seconds(1));
        tick_timer->async_wait([this](boost::system::error_code ec) {
            if (ec || stopping) return;
            runner->post([this](hub& h) {
                h.tick();
                std::lock_guard<std::mutex> g(mutex_);
                stats_copy = h.stats();
            });
            // The status counts the outbox (a scan of a week of changes by default): every 15 s
            // for the metrics gauges; GET /api/admin/status asks for a fresh one.
            if (ticks++ % 15 == 0)
                admin->status([this](json s) {
                    std::lock_guard<std::mutex> g(mutex_);
                    last_status = std::move(s);
                });
            schedule_tick();
        });
    }

    void schedule_prune() {
        prune_timer->expires_after(std::chrono::seconds(cfg.prune_interval_s));
        prune_timer->async_wait([this](boost::system::error_code ec) {
            if (ec || stopping) return;
            admin->prune(cfg.retention_s, cfg.retention_count, cfg.node_timeout_s, [](int64_t removed, std::string error) {
                if (!error.empty()) log_warn("outbox prune failed: " + error);
                else if (removed > 0) log_info("pruned " + std::to_string(removed) + " transactions from the outbox");
            });
            schedule_prune();
        });
    }

    // What this node has delivered, so that retention never prunes past it (pglive.nodes):
    // once a second while the position moves, and every node_timeout_s/3 s to stay alive. An
    // idle node writes one row every 10 s by default, a busy one keeps retention within a second.
    void schedule_beat() {
        beat_timer->expires_after(std::chrono::seconds(1));
        beat_timer->async_wait([this](boost::system::error_code ec) {
            if (ec || stopping) return;
            int64_t pos = capture->position(), now = steady_ms();
            if (pos != beat_position || now - beat_ms >= cfg.node_timeout_s * 1000 / 3) {
                beat_position = pos;
                beat_ms = now;
                admin->beat(node_id, pos, [](std::string error) {
                    if (!error.empty()) log_warn("node heartbeat failed: " + error);
                });
            }
            schedule_beat();
        });
    }

    std::string metrics() const {
        hub_stats s;
        json st;
        {
            std::lock_guard<std::mutex> g(mutex_);
            s = stats_copy;
            st = last_status;
        }
        return serve_metrics_text({s, st, link_up.load(), link_downs.load(), topics.load(), &timings,
                                   feed ? feed->outstanding() : 0, feed ? feed->pauses() : 0,
                                   feed ? feed->stalled_chunks() : 0});
    }
};

app::app(config c) : impl_(std::make_unique<impl>(std::move(c))) {}
app::~app() { stop(); }

void app::start() {
    auto& m = *impl_;
    set_log_level(parse_log_level(m.cfg.log_level));
    log_info(std::string("pglive ") + PGLIVE_VERSION + " starting; config file: " +
             (m.cfg.config_file.empty() ? "(none)" : m.cfg.config_file) + "; wakeup: " + m.cfg.wakeup);
    for (const auto& w : config_warnings(m.cfg)) log_warn(w);  // e.g. nobody can read (issue 13)

    // The schema must exist: serve never installs it behind a DBA's back.
    std::unique_ptr<pqxx::connection> conn = m.connect_with_backoff();
    log_info("database: " + describe_conninfo(*conn));
    if (!schema_installed(*conn))
        throw startup_error("the pglive schema is not installed in this database; run `pglive install` first");
    set_wakeup(*conn, m.cfg.wakeup);
    auto topics = list_topics(*conn);
    m.topics = topics.size();
    // Start after everything committed so far: sequence it, then read the highest position.
    // The hub must know where the stream starts to tell when a topic load has been reached.
    run_sequencer(*conn);
    int64_t start_position = 0;
    {
        pqxx::work w(*conn);
        // Not below what retention removed: with every transaction pruned, max(position) is 0.
        start_position = w.exec("SELECT greatest((SELECT coalesce(max(position), 0) FROM pglive.tx), "
                                "(SELECT pruned_upto FROM pglive.state))")[0][0].as<int64_t>();
        w.commit();
    }
    // The positions crashes lost so far (pglive.epochs): a client may resume from one on any node.
    std::vector<std::pair<int64_t, int64_t>> lost_ranges;
    for (const auto& e : read_epochs_after(*conn, 0)) lost_ranges.emplace_back(e.durable_before, e.base);
    // Registered before serving: from here on retention keeps what this node has not delivered.
    beat(*conn, m.node_id, start_position);
    log_info("node " + m.node_id + " holds retention from position " + std::to_string(start_position) +
             " (node_timeout_s " + std::to_string(m.cfg.node_timeout_s) + ")");
    conn.reset();

    m.loader = std::make_unique<db_worker>(m.cfg.db, "loader");
    m.admin = std::make_unique<db_worker>(m.cfg.db, "admin");

    hub::hooks hk;
    hk.now_ms = steady_ms;
    hk.wall_us = wall_now_us;
    hk.timings = &m.timings;
    hk.load_topic = [&m](const std::string& topic) {
        m.loader->load_topic(topic, [&m, topic](topic_load load) {
            if (load.info.topic.empty()) load.info.topic = topic;
            m.runner->post([load = std::move(load)](hub& h) mutable { h.on_topic_loaded(std::move(load)); });
        });
    };
    hk.load_history = [&m](const std::string& topic, int64_t after, int64_t upto) {
        m.loader->read_history(topic, after, upto, int(m.cfg.history_transactions + 1000),
                               [&m, topic, after](history_result r) {
                                   m.runner->post([topic, after, r = std::move(r)](hub& h) mutable {
                                       h.on_history(topic, after, std::move(r));
                                   });
                               });
    };
    hk.refresh_topics = [&m] { m.refresh_topics(); };
    m.runner = std::make_unique<hub_runner>(m.io, hk, hub_limits_from(m.cfg));
    m.runner->post([topics, start_position, lost_ranges](hub& h) mutable {
        h.start_at(start_position);
        h.set_lost_ranges(lost_ranges);
        h.set_topics(std::move(topics));
    });

    listener_options lo = listener_options_from(m.cfg);
    if (lo.batch_transactions < m.cfg.batch_transactions)
        log_info("batch_transactions lowered to " + std::to_string(lo.batch_transactions) +
                 ", half of max_queue_frames, so a burst cannot overflow a fast client's queue");
    listener_callbacks lc;
    // Back-pressure: at most four reads' worth of transactions wait for the hub; past that the
    // listener waits too, and the rest stays in the outbox (retention keeps it for this node).
    // The hub takes them in chunks and waits while the connections' queues are deep (hub_feed).
    hub_feed::options fo;
    fo.max_outstanding = size_t(4) * size_t(lo.batch_transactions);
    fo.chunk = std::clamp<size_t>(size_t(m.cfg.max_queue_frames) / 4, 1, 64);
    m.feed = std::make_unique<hub_feed>(
        *m.runner, fo,
        [&m] {
            server* s = m.net_for_feed.load();
            return s && s->under_pressure();
        },
        [&m] {
            server* s = m.net_for_feed.load();
            return s ? s->frames_written() : uint64_t(0);
        });
    lc.on_transactions = [&m](std::vector<transaction> txs) { m.feed->transactions(std::move(txs)); };
    lc.on_link = [&m](bool up, const std::string& why) { m.set_link(up, why); };  // the listener logs it
    // Through the feed, in the stream's order: before the transactions after them.
    lc.on_gap = [&m](int64_t from, int64_t to) { m.feed->gap(from, to); };
    lc.on_epoch = [&m](int64_t durable_before, int64_t base) { m.feed->epoch(durable_before, base); };
    m.capture = std::make_unique<listener>(lo, lc);
    m.capture->start(start_position);
    {
        // Ready means healthy: wait (briefly) for the listener's first link-up.
        std::unique_lock<std::mutex> g(m.mutex_);
        if (!m.link_changed.wait_for(g, std::chrono::seconds(10), [&m] { return m.link_up.load() || m.stopping.load(); }))
            log_warn("listener not connected after 10 s; serving anyway (/healthz answers 503 until it is)");
    }

    net_options no = net_options_from(m.cfg);
    no.dashboard_dir = dashboard_dir_for(m.cfg.dashboard_dir, PGLIVE_DASHBOARD_DIR);  // set, else installed, else source
    net_callbacks nc;
    nc.publish_topic = [&m](const std::string& topic, const json& data, std::function<void(std::string)> done) {
        m.admin->publish(topic, data, std::move(done));
    };
    nc.health = [&m] { return m.health(); };
    nc.timings = &m.timings;
    nc.metrics = [&m] { return m.metrics(); };
    // The dashboard's admin view: a fresh status on every call (it also renews the metrics'
    // copy) and attach/detach,
    // after which the topic list is refreshed before answering, so the page sees the change.
    nc.admin_status = [&m](std::function<void(json)> done) {
        m.admin->status([&m, done](json s) {
            if (s.is_object() && !s.contains("error")) {
                std::lock_guard<std::mutex> g(m.mutex_);
                m.last_status = s;
            }
            done(std::move(s));
        });
    };
    auto string_list = [](const json& body, const char* field) {
        std::vector<std::string> out;
        if (body.contains(field) && body[field].is_array())
            for (auto& v : body[field])
                if (v.is_string()) out.push_back(v.get<std::string>());
        return out;
    };
    nc.admin_attach = [&m, string_list](const json& body, std::function<void(int, json)> done) {
        std::optional<std::string> policy;  // absent: kept; "": cleared
        if (auto p = body.find("policy"); p != body.end() && p->is_string()) policy = p->get<std::string>();
        m.admin->attach(body["table"].get<std::string>(), string_list(body, "key"), string_list(body, "columns"),
                        string_list(body, "exclude"), policy, [&m, done](topic_info t, std::string error) {
                            if (!error.empty()) return done(400, json{{"error", "bad_request"}, {"message", error}});
                            m.refresh_topics();
                            json r = {{"topic", t.topic}, {"key", t.key}, {"columns", t.columns}};
                            if (!t.policy.empty()) r["policy"] = t.policy;
                            done(200, r);
                        });
    };
    nc.admin_detach = [&m](const json& body, std::function<void(int, json)> done) {
        std::string table = body["table"].get<std::string>();
        m.admin->detach(table, [&m, done, table](std::string error) {
            if (!error.empty()) return done(400, json{{"error", "bad_request"}, {"message", error}});
            m.refresh_topics();
            done(200, json{{"detached", table}});
        });
    };
    m.net = std::make_unique<server>(m.io, *m.runner, no, nc);
    m.net_for_feed = m.net.get();
    try {
        m.net->start();
    } catch (const std::exception& e) {
        throw startup_error(e.what());
    }
    if (m.net->metrics_port())
        log_info("metrics on http://" + no.metrics_host + ":" + std::to_string(m.net->metrics_port()) + "/metrics");
    m.tick_timer = std::make_unique<asio::steady_timer>(m.io);
    m.prune_timer = std::make_unique<asio::steady_timer>(m.io);
    m.beat_timer = std::make_unique<asio::steady_timer>(m.io);
    m.schedule_tick();
    m.schedule_prune();
    m.schedule_beat();
}

void app::run() {
    auto& m = *impl_;
    auto guard = asio::make_work_guard(m.io);
    // The last-resort guard: a handler that throws anyway is logged, and the loop serves on.
    auto serve = [&m] {
        for (;;) {
            try {
                m.io.run();
                return;
            } catch (const std::exception& e) {
                log_error(std::string("internal error escaped a handler (serving on): ") + e.what());
            } catch (...) {
                log_error("internal error escaped a handler (serving on)");
            }
        }
    };
    std::thread second(serve);
    serve();
    second.join();
}

void app::stop() {
    auto& m = *impl_;
    if (m.stopping.exchange(true)) return;
    m.link_changed.notify_all();
    if (m.feed) m.feed->stop();  // a listener waiting for the hub must not hold up the stop
    if (m.capture) m.capture->stop();
    if (m.admin) {
        // Leave pglive.nodes, so that a stopped node does not hold retention for node_timeout_s.
        // On a connection of its own: queued behind a long admin job (the status counts the
        // outbox) the leave missed the deadline below and the node held retention after a clean
        // stop. A thread that is still connecting when the deadline passes dies with the process.
        auto left = std::make_shared<std::promise<void>>();
        std::thread([left, db = m.cfg.db, node = m.node_id] {
            try {
                auto conn = open_connection(db, "leave");
                leave(*conn, node);
            } catch (const std::exception& e) {
                log_warn("could not leave pglive.nodes (retention is held until node_timeout_s): " + first_line(e.what()));
            }
            left->set_value();
        }).detach();
        if (left->get_future().wait_for(std::chrono::seconds(5)) != std::future_status::ready)
            log_warn("could not leave pglive.nodes within 5 s (retention is held until node_timeout_s)");
    }
    asio::post(m.io, [&m] {
        if (m.net) m.net->stop();
        if (m.tick_timer) m.tick_timer->cancel();
        if (m.prune_timer) m.prune_timer->cancel();
        if (m.beat_timer) m.beat_timer->cancel();
        m.io.stop();
    });
}

uint16_t app::port() const { return impl_->net ? impl_->net->port() : 0; }

std::string app::url() const {
    std::string host = impl_->cfg.listen_host();
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return "http://" + host + ":" + std::to_string(port());
}

size_t app::topic_count() const { return impl_->topics; }

}  // namespace pglive
