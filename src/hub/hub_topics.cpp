// hub_topics.cpp — the topics' life: attached list, loads and their hand-off, reloads (gap, undecodable change), unloading idle ones.
#include <algorithm>
#include <limits>

#include "core/backoff.h"
#include "hub/hub_impl.h"

namespace pglive {

hub::impl::topic* hub::impl::topic_for(const std::string& name) {
    auto it = topics.find(name);
    if (it != topics.end()) return &it->second;
    auto at = attached.find(name);
    if (at == attached.end() && !is_channel(name)) return nullptr;
    auto& t = topics[name];
    if (at != attached.end()) t.table.info = at->second;
    else t.table.info.topic = name;
    return &t;
}

void hub::impl::request_load(topic& t) {
    if (t.table.st == table_state::status::loading) return;
    t.table.st = table_state::status::loading;
    t.table.load.reset();
    t.table.pending.clear();
    if (hk.load_topic) hk.load_topic(t.name());
}

// Reads the topic again; every subscription then gets a fresh snapshot (whatever it was
// resuming from means nothing any more): a re-attach, a gap, an undecodable change.
void hub::impl::reload(topic& t) {
    t.table.st = table_state::status::unloaded;
    for (auto* s : t.subs)
        if (s->sh) {
            s->ph = subscription::phase::waiting_load;
            s->since.reset();
        }
    request_load(t);
}

// The load has answered and the hub has received every transaction up to its label P*.
// Windows are computed after the replay, on the state that the snapshots show.
void hub::impl::finish_load(topic& t) {
    if (!t.table.finish_load(position, limits.history_transactions)) {
        reload(t);  // a buffered change the rows miss could not be decoded: read again
        return;
    }
    for (auto& [id, sh] : t.shapes) sh->view->recompute(t.table.rows);
    // Serve every subscription that was waiting for this topic.
    std::vector<subscription*> waiting(t.subs.begin(), t.subs.end());
    for (subscription* s : waiting)
        if (s->ph == subscription::phase::waiting_load) start_subscription(t, *s);
}

void hub::set_topics(std::vector<topic_info> list) {
    auto& m = *impl_;
    std::map<std::string, topic_info> next;
    for (auto& t : list) next.emplace(t.topic, std::move(t));
    for (auto& [name, t] : m.topics) {
        if (is_channel(name)) continue;
        auto it = next.find(name);
        if (it == next.end()) {
            m.drop_topic_subscriptions(name, "table " + name + " was detached");
            t.table.st = table_state::status::unloaded;
            t.table.drop();
        } else {
            // A subscription's filter holds the policy it was made under: none may outlive it.
            if (auto was = m.attached.find(name); was != m.attached.end() && was->second.policy != it->second.policy)
                m.drop_topic_subscriptions(name, "the row policy of " + name + " changed; subscribe again",
                                           error_code::forbidden);
            if (it->second.key != t.table.info.key || it->second.columns != t.table.info.columns) {
                // Re-attached with another key or columns: reload and give everyone a fresh snapshot.
                t.table.info = it->second;
                if (t.table.st != table_state::status::unloaded) m.reload(t);
            }
        }
    }
    m.attached = std::move(next);
    stats_.keep_series_of(m.attached);
    std::vector<std::string> dead;
    for (auto& [name, t] : m.topics)
        if (!is_channel(name) && !m.attached.count(name) && t.subs.empty()) dead.push_back(name);
    for (auto& name : dead) m.topics.erase(name);
    stats_.topics_held = m.topics.size();
}

bool hub::topic_known(const std::string& topic) const { return impl_->attached.count(topic) > 0; }

void hub::on_topic_loaded(topic_load load) {
    auto& m = *impl_;
    auto it = m.topics.find(load.info.topic);
    if (it == m.topics.end()) return;  // nobody waits any more
    auto& t = it->second;
    if (t.table.st != table_state::status::loading) return;
    if (!load.error.empty() && load.transient && !t.subs.empty()) {
        // The database is away, not the table: the subscribers wait (and /healthz says why);
        // the load is asked again from tick(), 100 ms doubling to 5 s.
        t.table.st = table_state::status::unloaded;
        t.table.pending.clear();
        t.retry_load_at = m.now() + backoff::after(t.load_failures);
        ++t.load_failures;
        return;
    }
    if (!load.error.empty()) {
        t.table.st = table_state::status::unloaded;
        t.table.pending.clear();
        m.drop_topic_subscriptions(t.name(), load.error);
        return;
    }
    t.load_failures = 0;
    if (load.read_position < m.gap_upto || m.lost_position(load.position)) {
        // (Or its label is a lost position: the snapshot predates a crash that lost sequencer
        // commits, and perhaps the writes it shows.)
        // Its snapshot predates a gap's end: the rows miss what retention removed unseen, and
        // no buffered transaction carries it. Read again.
        t.table.st = table_state::status::unloaded;
        m.request_load(t);
        return;
    }
    t.table.info = load.info;
    // Column types come with the attached list (a load's topic_info lacks them); the table
    // state reads its json/jsonb columns from them (with_sql_nulls).
    if (auto at = m.attached.find(t.table.info.topic); at != m.attached.end() && t.table.info.types.empty())
        t.table.info.types = at->second.types;
    t.table.load = std::move(load);
    if (m.position >= t.table.load->position) m.finish_load(t);
}

void hub::on_gap(int64_t from, int64_t to) {
    auto& m = *impl_;
    (void)from;
    // Everything up to `to` is accounted for: those positions no longer exist.
    m.position = std::max(m.position, to);
    m.gap_upto = std::max(m.gap_upto, to);
    stats_.position = m.position;
    // A load that answered below `to` misses the gap's changes: redo it. A load still in flight
    // is left alone here; if its snapshot predates the prune it lacks them too, which only the
    // load hand-off can tell (its answer's position < to).
    m.reload_all(std::numeric_limits<int64_t>::min(), to);
}

// Every loaded topic, and every answered load whose label is in [stale_above+1, stale_below-1],
// is read again; each subscription gets a fresh snapshot.
void hub::impl::reload_all(int64_t stale_above, int64_t stale_below) {
    for (auto& [name, t] : topics) {
        if (is_channel(name) && !attached.count(name)) continue;  // messages only: no state to repair
        auto& tb = t.table;
        bool stale_load = tb.st == table_state::status::loading && tb.load && tb.load->position > stale_above &&
                          tb.load->position < stale_below;
        if (tb.st != table_state::status::loaded && !stale_load) continue;
        if (t.subs.empty()) {  // nobody to resync: the next subscriber loads it afresh
            tb.st = table_state::status::unloaded;
            tb.load.reset();
            tb.pending.clear();
            tb.drop();
            continue;
        }
        reload(t);  // a resume point means nothing across the gap
    }
}

void hub::set_lost_ranges(const std::vector<std::pair<int64_t, int64_t>>& ranges) {
    for (auto& [d, b] : ranges)
        if (d + 1 < b) impl_->lost[d] = std::max(impl_->lost[d], b);
}

bool hub::position_lost(int64_t position) const { return impl_->lost_position(position); }

void hub::on_epoch(int64_t durable_before, int64_t base) {
    auto& m = *impl_;
    set_lost_ranges({{durable_before, base}});
    if (durable_before < m.position && m.position < base) {
        // This hub holds transactions at lost positions: the database may have lost them (an
        // asynchronous commit), and those it kept come again at new positions. Nothing it holds
        // can be trusted: every loaded topic is read again. The position stays (the listener
        // continues above it, in the new epoch); gap_upto does not move.
        ++stats_.epochs_lost;
        m.reload_all(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
    } else {
        // Nothing received was lost; a load answered with a lost label predates the crash.
        m.reload_all(durable_before, base);
    }
}

void hub::on_undecodable_change(const std::string& topic, int64_t position) {
    auto& m = *impl_;
    ++stats_.undecodable_changes;
    auto it = m.topics.find(topic);
    if (it == m.topics.end()) return;
    auto& t = it->second;
    // Never the value: only where it is.
    std::string why = "a change of " + topic + " at position " + std::to_string(position) +
                      " could not be decoded; a fresh snapshot follows";
    for (auto* s : t.subs) m.send_error(s->conn, "", error_code::undecodable_change, why);
    // A load in flight brings the rows, or finish_load reads again when its snapshot predates this.
    if (!t.loaded()) return;
    m.reload(t);
}

void hub::impl::drop_topic_subscriptions(const std::string& topic, const std::string& why, const std::string& code) {
    for (auto& [id, c] : conns) {
        std::vector<std::string> names;
        for (auto& [name, s] : c.subs)
            if (s->topic == topic) names.push_back(name);
        for (auto& name : names) {
            send_error(id, "", code, why);
            remove_connection_sub(c, name);
        }
    }
}

void hub::tick() {
    auto& m = *impl_;
    int64_t now = m.now();
    for (auto& [name, t] : m.topics) {
        if (!t.loaded() || !t.subs.empty()) continue;
        if (now - t.idle_since < m.limits.unload_after_ms) continue;
        t.table.st = table_state::status::unloaded;
        t.table.drop();
        t.shapes.clear();
    }
    stats_.topics_held = m.topics.size();
    for (auto& [name, t] : m.topics)  // loads the database failed, due again
        if (t.table.st == table_state::status::unloaded && t.load_failures > 0 && now >= t.retry_load_at) {
            bool waiting = false;
            for (auto* s : t.subs) waiting = waiting || s->ph == impl::subscription::phase::waiting_load;
            if (waiting) m.request_load(t);
            else t.load_failures = 0;
        }
    m.serve_ahead(true);
}

}  // namespace pglive
