// hub_impl.h — the hub's private registry (topics, shapes, connections, subscriptions), shared by its .cpp files.
//
// hub.cpp routes events and requests, hub_delivery.cpp hands frames to clients, hub_resume.cpp
// moves a subscription from its request to live, hub_topics.cpp loads, reloads and unloads
// topics. Everything runs on the hub's strand.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>

#include "hub/encoder.h"
#include "hub/hub.h"
#include "hub/shape_view.h"
#include "hub/table_state.h"

namespace pglive {

// A channel (a name without a schema dot) carries messages only: no table, no rows.
inline bool is_channel(const std::string& topic) { return topic.find('.') == std::string::npos; }

struct hub::impl {
    struct shared_shape;
    struct subscription {
        conn_id conn = 0;
        uint64_t tag = 0;  // unique: names its frames in the connection's queue
        std::string sub;
        std::string topic;
        shared_shape* sh = nullptr;  // null for a channel (messages only)
        // Resume: patches at or below this position are not sent (the client already has them).
        int64_t min_position = 0;
        enum class phase { waiting_load, waiting_history, waiting_stream, live } ph = phase::waiting_load;
        int64_t stream_deadline = 0;   // waiting_stream: when a snapshot answers instead
        std::optional<int64_t> since;  // while waiting: resume point, or nullopt for a snapshot
        int64_t history_upto = 0;      // waiting_history: the outbox is read up to here
        bool list_rows = false;        // snapshots as an array in the shape's order (REST form=list)
    };
    using sub_ptr = std::shared_ptr<subscription>;

    // A shape (rows, or groups of them) and the subscriptions that share it.
    struct shared_shape {
        std::unique_ptr<shape_view> view;
        std::set<subscription*> subs;
    };

    struct topic {
        table_state table;
        std::map<std::string, std::unique_ptr<shared_shape>> shapes;  // by shape::id
        std::set<subscription*> subs;  // every subscription of the topic (channels: no shape)
        int64_t idle_since = 0;
        // A load the database failed (a restart): tick() asks again then, backing off.
        int64_t retry_load_at = 0;
        int load_failures = 0;
        const std::string& name() const { return table.info.topic; }
        bool loaded() const { return table.st == table_state::status::loaded; }
    };

    struct connection {
        std::shared_ptr<client> c;
        access who;
        std::map<std::string, sub_ptr> subs;  // by sub name
    };

    hub& owner;
    hooks hk;
    hub_limits limits;
    std::map<std::string, topic_info> attached;  // from set_topics
    std::map<std::string, topic> topics;
    std::unordered_map<conn_id, connection> conns;
    std::unordered_multimap<std::string, conn_id> by_user;
    uint64_t next_tag = 1;
    std::set<subscription*> ahead;  // waiting_stream: resumed from a position the stream has not reached
    int64_t gap_upto = 0;           // the end of the last gap the listener reported
    int64_t position = 0;           // the last transaction received
    // Lost ranges (durable_before, base), exclusive both ends, from the sequencer's epochs.
    std::map<int64_t, int64_t> lost;  // durable_before → base
    bool lost_position(int64_t p) const {
        auto it = lost.upper_bound(p - 1);  // first durable_before >= p: not it; the one before
        if (it == lost.begin()) return false;
        --it;
        return it->first < p && p < it->second;
    }
    void reload_all(int64_t stale_above, int64_t stale_below);  // on_gap / on_epoch

    impl(hub& o, hooks h, hub_limits l) : owner(o), hk(std::move(h)), limits(l) {}

    hub_stats& stats() { return owner.stats_; }
    int64_t now() const { return hk.now_ms ? hk.now_ms() : 0; }

    // --- hub_delivery.cpp: frames to clients
    client* client_of(const subscription& s);
    void send_to(conn_id id, const outgoing& out, frame_kind kind);
    void send_error(conn_id id, const std::string& ref, const std::string& code, const std::string& msg);
    void send_snapshot(topic& t, subscription& s);
    void send_patch(subscription& s, int64_t pos, const std::string& ts, const json& ops);  // resume
    void fan_out(topic& t, const topic_tx& tx);  // live: ops once per shape, frames shared
    // Resync of a live subscription whose client's view is at `have`: one patch merging every
    // transaction since (a `from` patch). False when a snapshot must answer instead: a window
    // (its state at `have` is not kept), history short of `have`, a TRUNCATE among them, or
    // more rows touched than the table holds (the snapshot is then the smaller message).
    bool catch_up(topic& t, subscription& s, int64_t have);
    void deliver_messages(topic& t, int64_t pos, const std::vector<json>& messages);

    // --- hub_resume.cpp: a subscription from its request to live
    sub_ptr make_subscription(conn_id id, const access& who, const subscribe_request& req);
    void begin(topic& t, subscription& s);
    void start_subscription(topic& t, subscription& s);
    void resume_from_memory(topic& t, subscription& s, int64_t since);
    void serve_ahead(bool deadline_passed);
    void detach_subscription(subscription& s);
    void remove_connection_sub(connection& c, const std::string& name);

    // --- hub_topics.cpp: the topics' life
    topic* topic_for(const std::string& name);
    void request_load(topic& t);
    void reload(topic& t);
    void finish_load(topic& t);
    void drop_topic_subscriptions(const std::string& topic, const std::string& why,
                                  const std::string& code = error_code::unknown_topic);
};

}  // namespace pglive
