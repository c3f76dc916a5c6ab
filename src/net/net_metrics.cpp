// net_metrics.cpp — the network's counters as Prometheus text.
#include "net/net_metrics.h"

#include "core/prometheus.h"

namespace pglive {

std::string net_metrics_text(net_stats& s) {
    namespace prom = prometheus;
    std::string text;
    prom::metric(text, "pglive_http_requests_total", "HTTP requests read", "counter", double(s.http_requests));
    prom::metric(text, "pglive_connections", "open WebSocket and SSE connections", "gauge", double(s.ws_open + s.sse_open));
    prom::metric(text, "pglive_websocket_connections", "open WebSocket connections", "gauge", double(s.ws_open));
    prom::metric(text, "pglive_sse_connections", "open SSE streams", "gauge", double(s.sse_open));
    prom::metric(text, "pglive_websocket_connections_total", "WebSocket connections accepted", "counter", double(s.ws_total));
    prom::metric(text, "pglive_sse_connections_total", "SSE streams started", "counter", double(s.sse_total));
    prom::metric(text, "pglive_polls_total", "long-poll requests", "counter", double(s.polls_total));
    prom::metric(text, "pglive_frames_sent_total", "frames written to connections", "counter", double(s.frames_sent));
    prom::metric(text, "pglive_bytes_sent_total", "bytes written to connections", "counter", double(s.bytes_sent));
    prom::metric(text, "pglive_queue_overflows_total", "send queues that passed their bound (resync follows)", "counter",
                 double(s.queue_overflows));
    prom::metric(text, "pglive_frames_dropped_total", "frames dropped by overflowing queues", "counter",
                 double(s.frames_dropped));
    prom::metric(text, "pglive_deep_queues", "connections holding a quarter of their queue bound of patches (the hub feed's pressure)",
                 "gauge", double(s.deep_queues));
    std::lock_guard<std::mutex> g(s.mutex_);
    prom::labeled(text, "pglive_disconnects_total", "connections closed, by reason", "counter", "reason", s.closes);
    return text;
}

}  // namespace pglive
