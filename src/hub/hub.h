// hub.h — topics, their live state, subscriptions and fan-out: pure logic, one strand.
//
// Every method runs on one strand (hub_runner in net/ posts there); nothing here blocks or
// touches a socket or the database. The database is reached through `hooks`, whose answers
// come back as on_topic_loaded / on_history calls.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "core/change.h"
#include "core/jwt.h"
#include "core/latency_histogram.h"
#include "core/protocol.h"
#include "core/topic.h"
#include "hub/client.h"
#include "hub/hub_metrics.h"

namespace pglive {

struct hub_limits {
    // Defaults are config.h's (default_config()).
    size_t max_subscriptions_per_connection = size_t(default_config().max_subscriptions_per_connection);
    size_t history_transactions = size_t(default_config().history_transactions);  // per topic, for resume/poll
    int64_t unload_after_ms = default_config().unload_after_s * 1000;  // a topic with no subscriber is dropped after this
    // A `since` beyond this node's position waits this long for the stream to reach it (the
    // node lags behind the one that gave the position), then gets a fresh snapshot (a position
    // no node has: a client of another database, or a made-up number).
    int64_t future_since_wait_ms = 10000;
};

class hub {
public:
    struct hooks {
        std::function<void(const std::string& topic)> load_topic;  // → on_topic_loaded
        std::function<void(const std::string& topic, int64_t after, int64_t upto)> load_history;  // → on_history
        std::function<int64_t()> now_ms;  // steady clock, for unloading idle topics
        std::function<void()> refresh_topics;  // an attach/detach was captured → set_topics
        std::function<int64_t()> wall_us;      // system clock in µs since the epoch (latency metric)
        // Where the stage timings go (commit → sequenced, read, hub, handed); null: not timed.
        pipeline_timings* timings = nullptr;
    };

    hub(hooks h, hub_limits limits = {});
    ~hub();

    // --- from capture ---------------------------------------------------------------
    void set_topics(std::vector<topic_info> topics);  // the attached tables
    // The listener starts after this position: the hub has "received" everything up to it.
    void start_at(int64_t position);
    void on_transactions(const std::vector<transaction>& txs);
    void on_topic_loaded(topic_load load);
    void on_history(const std::string& topic, int64_t after, history_result result);
    // Retention removed positions from+1..to before the listener delivered them: which topics
    // they touched is unknown, so every loaded topic is reloaded and each of its subscriptions
    // gets a fresh snapshot (topics nobody subscribes to are just dropped from memory).
    void on_gap(int64_t from, int64_t to);
    // A sequencer epoch started (listener_callbacks::on_epoch): positions in (durable_before,
    // base) are lost. Recorded for resume decisions (a `since`, a load's label or a resync
    // position inside a lost range gets a fresh snapshot / is read again). If this hub received
    // a position in the range, its state holds transactions the database lost: every loaded
    // topic is reloaded as on_gap does (without moving gap_upto: a load after the crash may
    // rightly read P_rr = durable_before).
    void on_epoch(int64_t durable_before, int64_t base);
    // Every lost range known so far (pglive.epochs_after(0), at start-up): recorded only.
    void set_lost_ranges(const std::vector<std::pair<int64_t, int64_t>>& ranges);
    bool position_lost(int64_t position) const;  // inside a recorded lost range
    // A change of `topic` at `position` could not be decoded (transaction::undecodable; on_transactions
    // calls this): counts it, sends the topic's subscribers an `undecodable_change` error and, when
    // the topic is loaded, reloads it so they get a fresh snapshot instead of a silently wrong view.
    void on_undecodable_change(const std::string& topic, int64_t position);

    // --- from connections ----------------------------------------------------------
    void connect(conn_id id, std::shared_ptr<client> c, access who);
    void set_access(conn_id id, access who);  // after {"op":"auth"}
    // Replies on the connection: subscribed + snapshot (or patches after `since`), or error.
    // Long-poll and REST requests are connections too (net/poll_session): one subscription each.
    void subscribe(conn_id id, const subscribe_request& req);
    void unsubscribe(conn_id id, const unsubscribe_request& req);
    void disconnect(conn_id id);
    // The connection dropped patches (queue overflow) and has drained. `have`: per subscription
    // tag, the position of the last snapshot or patch it wrote. A subscription whose view at that
    // position the hub can bring up to date from its history gets one catch-up patch covering
    // every transaction since (PROTOCOL §4: `from`), unless that would be larger than a
    // snapshot; every other one a fresh snapshot. Then client::resynced().
    void resync(conn_id id, const std::unordered_map<uint64_t, int64_t>& have = {});
    // Pushes {"type":"message"} to every connection of `user` (POST /api/publish {"user":…}).
    void publish_user(const std::string& user, const json& data);

    json topics_json(const access& who) const;  // GET /api/topics

    // Drops topics that have had no subscriber for limits.unload_after_ms (call on a timer).
    void tick();

    const hub_stats& stats() const { return stats_; }
    bool topic_known(const std::string& topic) const;
    // Why `req` would be refused (forbidden, unknown_topic, bad_filter), or nullopt: transports
    // that must answer before subscribing (SSE's HTTP status) ask first. Changes nothing.
    std::optional<protocol_error> refusal(const subscribe_request& req, const access& who) const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
    hub_stats stats_;
};

}  // namespace pglive
