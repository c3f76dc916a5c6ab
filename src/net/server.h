// server.h — one port for HTTP, WebSocket, SSE and long-poll (Boost.Beast): options and the listener.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "config/config.h"
#include "core/change.h"
#include "core/jwt.h"
#include "core/latency_histogram.h"
#include "net/hub_runner.h"
#include "net/net_metrics.h"
#include "net/shard.h"

namespace pglive {

struct net_options {
    // Defaults are config.h's (default_config()); app.cpp fills every field from the config.
    std::string host = default_config().listen_host();
    uint16_t port = default_config().listen_port();  // 0: any free port
    std::string token_secret;
    access anonymous;                          // what callers without a token may read
    std::vector<std::string> allowed_origins;  // "*" = any; same-origin and Origin-less callers always pass
    size_t max_message_bytes = size_t(default_config().max_message_bytes);
    size_t max_queue_bytes = size_t(default_config().max_queue_bytes);
    size_t max_queue_frames = size_t(default_config().max_queue_frames);
    int ping_interval_s = int(default_config().ping_interval_s);
    int pong_timeout_s = int(default_config().pong_timeout_s);
    size_t max_http_body = 1 << 20;  // not a setting: the API's bodies are small JSON
    int http_timeout_s = int(default_config().http_timeout_s);
    int poll_max_timeout_s = int(default_config().poll_max_timeout_s);
    std::string dashboard_dir;
    // GET /metrics: on this port with a token holding the metrics or admin right, or by anyone
    // when metrics_public; and by anyone on metrics_host:metrics_port (-1: no such listener).
    bool metrics_public = false;
    std::string metrics_host = "127.0.0.1";
    int metrics_port = -1;
};

// What the network asks of the rest of pglive. Called on network threads; `done` may be
// called from any thread.
struct net_callbacks {
    std::function<void(const std::string& topic, const json& data, std::function<void(std::string error)> done)>
        publish_topic;                                  // the durable path: pglive.publish via the database
    std::function<std::pair<bool, std::string>()> health;  // database link up?, why not
    std::function<std::string()> metrics;               // Prometheus text of the other stages
    std::function<void(std::function<void(json)> done)> admin_status;
    std::function<void(const json& request, std::function<void(int status, json body)> done)> admin_attach;
    std::function<void(const json& request, std::function<void(int status, json body)> done)> admin_detach;
    pipeline_timings* timings = nullptr;  // where connections time the `written` stage; null: not timed
};

// Everything a session needs, shared by pointer.
struct net_context {
    // Connections' strands (shard.h), set up by the server before it accepts; each accepted
    // connection is handed the one its socket runs on.
    std::vector<std::shared_ptr<shard>> shards;
    net_options opt;
    net_callbacks cb;
    hub_runner* runner = nullptr;
    net_stats stats;
    pipeline_timings* timings = nullptr;  // cb.timings
    std::atomic<uint64_t> next_id{1};
    // Origins refused so far, each logged once (http_util.cpp note_refused_origin); bounded.
    std::mutex refused_origins_mu;
    std::set<std::string> refused_origins;  // guarded by refused_origins_mu
    bool refused_origins_full = false;      // guarded by refused_origins_mu
};

class server {
public:
    server(boost::asio::io_context& io, hub_runner& runner, net_options opt, net_callbacks cb);
    ~server();
    void start();  // binds and listens; throws std::runtime_error naming the address
    void stop();
    uint16_t port() const { return port_; }
    uint16_t metrics_port() const { return metrics_port_; }  // 0 when there is no metrics listener
    // Many connections hold a quarter of their queue bound of patches or more (at least two, and a
    // quarter of the open WebSocket and SSE connections): the server's sockets, not a few slow
    // readers, are behind, and the hub should wait before it hands out more (hub_feed).
    // From any thread.
    bool under_pressure() const;
    uint64_t frames_written() const;  // so far, every connection: hub_feed's sign of progress

private:
    void do_accept(boost::asio::ip::tcp::acceptor& on, bool metrics_only);
    boost::asio::io_context& io_;
    std::shared_ptr<net_context> ctx_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::ip::tcp::acceptor metrics_acceptor_;
    uint16_t metrics_port_ = 0;
    size_t next_shard_ = 0;  // acceptor's strand only
    uint16_t port_ = 0;
};

}  // namespace pglive
