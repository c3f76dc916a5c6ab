// app_metrics.cpp — the Prometheus text of serve's counters, gauges and latency histogram.
#include "server/app_metrics.h"

#include <chrono>
#include <cstdio>

#include "core/prometheus.h"

namespace pglive {

std::string serve_metrics_text(const serve_metrics_input& in) {
    const hub_stats& s = in.hub;
    const json& st = in.status;
    std::string out;
    auto gauge = [&](const std::string& name, const std::string& help, const char* type, double v) {
        prometheus::metric(out, name, help, type, v);
    };
    gauge("pglive_database_up", "1 while the listener's database link is up", "gauge", in.link_up ? 1 : 0);
    gauge("pglive_listener_reconnects_total", "times the listener lost its database link", "counter",
          double(in.link_downs));
    gauge("pglive_transactions_total", "captured transactions received", "counter", double(s.transactions));
    gauge("pglive_position", "position of the last transaction received", "gauge", double(s.position));
    gauge("pglive_patches_sent_total", "patch frames handed to connections", "counter", double(s.patches_sent));
    gauge("pglive_snapshots_sent_total", "snapshot frames handed to connections", "counter", double(s.snapshots_sent));
    gauge("pglive_messages_sent_total", "published messages handed to connections", "counter", double(s.messages_sent));
    gauge("pglive_resyncs_total", "slow connections resynchronised with a snapshot", "counter", double(s.resyncs));
    gauge("pglive_catch_ups_total", "subscriptions of resynced connections brought up to date by one merged patch",
          "counter", double(s.catch_ups));
    gauge("pglive_epochs_lost_total", "sequencer epochs (database crashes) whose lost positions this node had received",
          "counter", double(s.epochs_lost));
    gauge("pglive_undecodable_changes_total", "captured changes pglive could not decode (skipped, logged)", "counter",
          double(s.undecodable_changes));
    gauge("pglive_attached_tables", "attached tables", "gauge", double(in.topics));
    gauge("pglive_hub_backlog_transactions",
          "transactions read by the listener that the hub has not taken yet (bounded: the listener waits)", "gauge",
          double(in.hub_backlog));
    gauge("pglive_hub_feed_pauses_total",
          "times the hub waited before handing out more because many connections' queues were a quarter full or more",
          "counter", double(in.feed_pauses));
    gauge("pglive_hub_feed_stalled_chunks_total",
          "chunks the hub let through under pressure because no connection had written for 250 ms", "counter",
          double(in.feed_stalled_chunks));
    if (st.is_object()) {
        if (st.contains("outbox_rows")) gauge("pglive_outbox_rows", "rows in pglive.outbox", "gauge", st["outbox_rows"].get<double>());
        if (st.contains("lag_seconds") && st["lag_seconds"].is_number())
            gauge("pglive_capture_lag_seconds", "age of the oldest change not yet given a position", "gauge",
                  st["lag_seconds"].get<double>());
        if (st.contains("notification_queue_usage") && st["notification_queue_usage"].is_number())
            gauge("pglive_notification_queue_usage", "pg_notification_queue_usage()", "gauge",
                  st["notification_queue_usage"].get<double>());
    }
    auto labeled = [&](const std::string& name, const std::string& help, const char* type,
                       const std::map<std::string, uint64_t>& m) { prometheus::labeled(out, name, help, type, "topic", m); };
    if (in.timings) {
        const pipeline_timings& t = *in.timings;
        // Kept under its old name: commit → patches handed to connections.
        std::string name = "pglive_commit_to_send_seconds";
        prometheus::family(out, name, "commit time (outbox ts) to patches handed to connections", "histogram");
        prometheus::histogram(out, name, t[pipeline_stage::handed]);
        name = "pglive_stage_seconds";
        prometheus::family(out, name,
                           "commit time (outbox ts) to the end of each stage: sequenced, read by the listener, "
                           "taken by the hub, handed to connections, written to the socket",
                           "histogram");
        for (size_t i = 0; i < pipeline_stage_count; ++i)
            prometheus::histogram(out, name, t.stage[i], std::string("stage=\"") + stage_name(pipeline_stage(i)) + "\"");
    }
    labeled("pglive_changes_total", "captured changes per topic", "counter", s.changes_by_topic);
    labeled("pglive_topic_patches_total", "patch frames sent per topic", "counter", s.patches_by_topic);
    labeled("pglive_subscriptions", "subscriptions per topic", "gauge", s.subscriptions_by_topic);
    if (s.last_ts_us != 0) {
        // capture lag: now − commit time of the last transaction received
        int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
        gauge("pglive_last_commit_age_seconds", "now minus the commit time of the last transaction received",
              "gauge", double(now_us - s.last_ts_us) / 1e6);
    }
    return out;
}

}  // namespace pglive
