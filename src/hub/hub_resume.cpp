// hub_resume.cpp — a subscription from its request to live: validation, shape, snapshot or resume (memory, outbox, a stream ahead).
#include <algorithm>

#include "core/aggregate_spec.h"
#include "core/policy.h"
#include "hub/aggregate.h"
#include "hub/hub_impl.h"
#include "hub/shape.h"

namespace pglive {

namespace {

// The computation a request asks for, over the final filter `f`: its rows (filter, order,
// limit), or groups of them with aggregates (PROTOCOL §5). Throws filter_error.
std::unique_ptr<shape_view> make_view(const subscribe_request& req, row_filter f, const std::vector<std::string>& columns,
                                      const std::vector<std::string>& types) {
    if (req.aggregated())
        return std::make_unique<aggregate_shape>(
            std::move(f), aggregate_spec::parse(req.group, req.aggregate, req.order, columns, types), req.limit);
    return std::make_unique<shape>(std::move(f), row_order::parse(req.order, columns, types), req.limit);
}

}  // namespace

std::optional<protocol_error> hub::refusal(const subscribe_request& req, const access& who) const {
    if (!who.may_read(req.topic))
        return protocol_error(error_code::forbidden, "not allowed to read topic " + req.topic, req.ref);
    auto at = impl_->attached.find(req.topic);
    if (at == impl_->attached.end()) {
        if (is_channel(req.topic)) return std::nullopt;  // a channel: messages only, no columns
        return protocol_error(error_code::unknown_topic, "no attached table " + req.topic, req.ref);
    }
    if (auto p = resolve_policy(at->second, who); !p.forbidden.empty())
        return protocol_error(error_code::forbidden, p.forbidden, req.ref);
    try {
        row_filter::parse(req.filter, at->second.columns, at->second.types);
        if (req.aggregated()) aggregate_spec::parse(req.group, req.aggregate, req.order, at->second.columns, at->second.types);
        else row_order::parse(req.order, at->second.columns, at->second.types);
    } catch (const filter_error& e) {
        return protocol_error(error_code::bad_filter, e.what(), req.ref);
    }
    return std::nullopt;
}

// Validates and registers a subscription; throws protocol_error.
hub::impl::sub_ptr hub::impl::make_subscription(conn_id id, const access& who, const subscribe_request& req) {
    if (auto why = owner.refusal(req, who)) throw *why;
    topic* t = topic_for(req.topic);
    if (!t) throw protocol_error(error_code::unknown_topic, "no attached table " + req.topic, req.ref);
    auto s = std::make_shared<subscription>();
    s->conn = id;
    s->tag = next_tag++;
    s->sub = req.sub.empty() ? req.topic : req.sub;
    s->topic = req.topic;
    s->since = req.since;
    s->list_rows = req.list_rows;
    if (!is_channel(req.topic) || attached.count(req.topic)) {
        // The request's filters ANDed with the caller's row policy (refusal() checked it), before
        // the shape is found: callers whose policies resolve alike share a shape.
        std::vector<std::string> filters = req.filter;
        if (auto at = attached.find(req.topic); at != attached.end())
            for (auto& p : resolve_policy(at->second, who).filters) filters.push_back(p);
        row_filter f;
        std::unique_ptr<shape_view> view;
        // Column types come with the attached list (a load's topic_info may lack them).
        const topic_info& info = t->table.info;
        const std::vector<std::string>* types = &info.types;
        if (auto at = attached.find(req.topic); at != attached.end() && at->second.columns == info.columns)
            types = &at->second.types;
        try {
            f = row_filter::parse(filters, info.columns, *types);
            view = make_view(req, std::move(f), info.columns, *types);
        } catch (const filter_error& e) {
            throw protocol_error(error_code::bad_filter, e.what(), req.ref);
        }
        auto& slot = t->shapes[view->id()];
        if (!slot) {
            slot = std::make_unique<shared_shape>(shared_shape{std::move(view), {}});
            if (t->loaded()) slot->view->recompute(t->table.rows);
        }
        s->sh = slot.get();
        s->sh->subs.insert(s.get());
    }
    t->subs.insert(s.get());
    if (attached.count(req.topic)) ++stats().subscriptions_by_topic[req.topic];  // series for attached topics only
    return s;
}

void hub::impl::begin(topic& t, subscription& s) {
    if (!s.sh || t.loaded()) {
        start_subscription(t, s);
    } else {
        s.ph = subscription::phase::waiting_load;
        request_load(t);
    }
}

// A subscription on a loaded topic: snapshot, or resume from `since`.
void hub::impl::start_subscription(topic& t, subscription& s) {
    if (!s.sh) {  // a channel: messages only
        s.ph = subscription::phase::live;
        s.min_position = position;
        return;
    }
    if (s.since && lost_position(*s.since)) {
        // A crash lost the sequencer commit that gave it: what the client holds may include
        // transactions that no longer exist, or come again at new positions.
        s.since.reset();
    }
    if (s.since && *s.since > position) {
        // This node lags, or the position exists nowhere: wait a while, so that whatever the
        // answer (patches, or a window's snapshot), positions never go back below `since`.
        s.ph = subscription::phase::waiting_stream;
        s.stream_deadline = now() + limits.future_since_wait_ms;
        ahead.insert(&s);
        return;
    }
    if (s.since && !s.sh->view->resumes_from_deltas() && *s.since >= t.table.history_floor) {
        // Aggregates: their state at `since` rolled back from memory, then one patch per transaction.
        if (auto replayed = s.sh->view->replay(t.table.history, *s.since)) {
            s.ph = subscription::phase::live;
            s.min_position = *s.since;
            size_t i = 0;
            for (auto& tx : t.table.history)
                if (tx->position > *s.since) send_patch(s, tx->position, tx->ts, (*replayed)[i++]);
            s.min_position = std::max(s.min_position, t.table.position);
            return;
        }
    }
    if (!s.since || !s.sh->view->resumes_from_deltas()) {
        send_snapshot(t, s);
        return;
    }
    int64_t since = *s.since;
    if (since >= t.table.history_floor) {
        resume_from_memory(t, s, since);
        return;
    }
    // Older than what memory holds: read the outbox (any node can resume any client).
    s.ph = subscription::phase::waiting_history;
    s.history_upto = t.table.history_floor;
    if (hk.load_history) hk.load_history(t.name(), since, t.table.history_floor);
    else send_snapshot(t, s);
}

void hub::impl::resume_from_memory(topic& t, subscription& s, int64_t since) {
    s.ph = subscription::phase::live;
    s.min_position = since;
    for (auto& tx : t.table.history) {
        if (tx->position <= since) continue;
        send_patch(s, tx->position, tx->ts, s.sh->view->resume_ops(*tx));
    }
    s.min_position = std::max(s.min_position, t.table.position);
}

// Subscriptions whose `since` the stream has reached resume; past their deadline, a snapshot.
void hub::impl::serve_ahead(bool deadline_passed) {
    if (ahead.empty()) return;
    int64_t t_now = deadline_passed ? now() : 0;
    std::vector<subscription*> ready;
    for (auto it = ahead.begin(); it != ahead.end();) {
        subscription* s = *it;
        bool reached = s->since && *s->since <= position;
        bool late = deadline_passed && t_now >= s->stream_deadline;
        if (s->ph != subscription::phase::waiting_stream) {
            it = ahead.erase(it);  // moved on (a reload): no longer waiting here
        } else if (reached || late) {
            if (!reached) s->since.reset();  // no node has that position: start afresh
            ready.push_back(s);
            it = ahead.erase(it);
        } else {
            ++it;
        }
    }
    for (subscription* s : ready) {
        auto t = topics.find(s->topic);
        if (t == topics.end()) continue;
        if (t->second.loaded()) start_subscription(t->second, *s);
        else s->ph = subscription::phase::waiting_load;
    }
}

void hub::on_history(const std::string& topic_name, int64_t after, history_result result) {
    auto& m = *impl_;
    auto it = m.topics.find(topic_name);
    if (it == m.topics.end()) return;
    auto& t = it->second;
    std::vector<impl::subscription*> waiting;
    for (auto* s : t.subs)
        if (s->ph == impl::subscription::phase::waiting_history && s->since && *s->since == after) waiting.push_back(s);
    if (waiting.empty()) return;
    bool gap = false;  // memory's history moved on while the outbox was read
    for (auto* s : waiting) gap = gap || t.table.history_floor > s->history_upto;
    auto snapshot_instead = [&] {
        for (auto* s : waiting) {
            s->since.reset();
            if (t.loaded()) m.send_snapshot(t, *s);
            else s->ph = impl::subscription::phase::waiting_load;
        }
    };
    if (!result.error.empty() || !result.complete || !t.loaded() || gap) return snapshot_instead();
    // Deltas from the outbox's row images (no state at `after` is needed for unwindowed views).
    std::vector<topic_tx> txs;
    for (auto& tx : result.transactions) {
        if (tx.position <= after || tx.position > t.table.history_floor) continue;
        topic_tx out = image_tx(tx, t.table.info);
        // The rows a TRUNCATE removed are not in the outbox, and a change pglive could not
        // decode has no rows at all: resync instead.
        bool undecodable = std::find(tx.undecodable.begin(), tx.undecodable.end(), topic_name) != tx.undecodable.end();
        if (out.truncated || undecodable) return snapshot_instead();
        txs.push_back(std::move(out));
    }
    for (auto* s : waiting) {
        s->ph = impl::subscription::phase::live;
        s->min_position = after;
        for (auto& tx : txs) m.send_patch(*s, tx.position, tx.ts, s->sh->view->resume_ops(tx));
        m.resume_from_memory(t, *s, std::max(after, s->min_position));
    }
}

void hub::impl::detach_subscription(subscription& s) {
    ahead.erase(&s);
    auto t = topics.find(s.topic);
    if (t != topics.end()) {
        t->second.subs.erase(&s);
        if (s.sh) {
            s.sh->subs.erase(&s);
            if (s.sh->subs.empty()) t->second.shapes.erase(std::string(s.sh->view->id()));
        }
        if (t->second.subs.empty()) t->second.idle_since = now();
        if (auto n = stats().subscriptions_by_topic.find(s.topic); n != stats().subscriptions_by_topic.end() && n->second > 0)
            --n->second;
        // A channel holds nothing but its subscribers: its last one leaving frees it, so
        // names that come and go never accumulate.
        if (t->second.subs.empty() && is_channel(s.topic) && !attached.count(s.topic)) topics.erase(t);
    }
    s.sh = nullptr;
}

void hub::impl::remove_connection_sub(connection& c, const std::string& name) {
    auto it = c.subs.find(name);
    if (it == c.subs.end()) return;
    c.c->supersede(it->second->tag);  // what it still has queued is of no use any more
    detach_subscription(*it->second);
    c.subs.erase(it);
}

}  // namespace pglive
