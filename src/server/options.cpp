// options.cpp — the config's values handed to the hub, the listener and the network.
#include "server/options.h"

#include <algorithm>

namespace pglive {

hub_limits hub_limits_from(const config& c) {
    hub_limits l;
    l.max_subscriptions_per_connection = size_t(c.max_subscriptions_per_connection);
    l.history_transactions = size_t(c.history_transactions);
    l.unload_after_ms = c.unload_after_s * 1000;
    return l;
}

listener_options listener_options_from(const config& c) {
    listener_options o;
    o.conninfo = c.db;
    o.wakeup = c.wakeup;
    o.poll_interval_ms = int(c.poll_interval_ms);
    o.safety_interval_ms = int(c.safety_interval_ms);
    // One read is handed to every connection at once, a frame per transaction: a read larger
    // than a connection's queue bound would resync even a fast client. Keep reads under half of it.
    o.batch_transactions = int(std::max<int64_t>(1, std::min(c.batch_transactions, c.max_queue_frames / 2)));
    return o;
}

net_options net_options_from(const config& c) {
    net_options o;
    o.host = c.listen_host();
    o.port = c.listen_port();
    o.token_secret = c.token_secret;
    o.anonymous.topics = c.anonymous_topics;
    o.allowed_origins = c.allowed_origins;
    o.max_message_bytes = size_t(c.max_message_bytes);
    o.max_queue_bytes = size_t(c.max_queue_bytes);
    o.max_queue_frames = size_t(c.max_queue_frames);
    o.ping_interval_s = int(c.ping_interval_s);
    o.pong_timeout_s = int(c.pong_timeout_s);
    o.http_timeout_s = int(c.http_timeout_s);
    o.poll_max_timeout_s = int(c.poll_max_timeout_s);
    o.metrics_public = c.metrics_public;
    if (!c.metrics_listen.empty()) {  // validated HOST:PORT
        auto colon = c.metrics_listen.rfind(':');
        o.metrics_host = c.metrics_listen.substr(0, colon);
        if (o.metrics_host.size() >= 2 && o.metrics_host.front() == '[')
            o.metrics_host = o.metrics_host.substr(1, o.metrics_host.size() - 2);
        o.metrics_port = std::stoi(c.metrics_listen.substr(colon + 1));
    }
    return o;
}

}  // namespace pglive
