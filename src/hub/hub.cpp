// hub.cpp — the hub's routing: transactions to topics, requests to subscriptions, connections in and out.
#include "hub/hub.h"

#include <algorithm>
#include <set>

#include "core/policy.h"
#include "hub/hub_impl.h"

namespace pglive {

hub::hub(hooks h, hub_limits limits) : impl_(std::make_unique<impl>(*this, std::move(h), limits)) {}
hub::~hub() = default;

void hub::start_at(int64_t position) {
    impl_->position = std::max(impl_->position, position);
    stats_.position = impl_->position;
}

void hub::on_transactions(const std::vector<transaction>& txs) {
    auto& m = *impl_;
    bool refresh = false;
    pipeline_timings* timed = m.hk.wall_us ? m.hk.timings : nullptr;
    int64_t now = timed ? m.hk.wall_us() : 0;
    for (auto& tx : txs) {
        if (tx.position <= m.position) continue;  // never twice
        if (timed) {
            (*timed)[pipeline_stage::sequenced].observe_span(tx.ts_us, tx.sequenced_us);
            (*timed)[pipeline_stage::read].observe_span(tx.ts_us, tx.read_us);
            (*timed)[pipeline_stage::hub].observe_span(tx.ts_us, now);
        }
        m.position = tx.position;
        ++stats_.transactions;
        stats_.position = tx.position;
        stats_.last_ts_us = tx.ts_us;
        std::set<std::string> touched;
        for (auto& ch : tx.changes) {
            if (ch.op == op_kind::control) {
                refresh = true;
                continue;
            }
            touched.insert(ch.topic);
            if (m.attached.count(ch.topic)) ++stats_.changes_by_topic[ch.topic];
        }
        touched.insert(tx.undecodable.begin(), tx.undecodable.end());  // a load in flight must see it
        for (auto& name : touched) {
            auto it = m.topics.find(name);
            if (it == m.topics.end()) continue;
            auto& t = it->second;
            if (is_channel(name)) {  // a channel holds no state: deliver its messages
                std::vector<json> msgs;
                for (auto& ch : tx.changes)
                    if (ch.topic == name && ch.op == op_kind::message) msgs.push_back(ch.new_row);
                m.deliver_messages(t, tx.position, msgs);
                continue;
            }
            if (t.loaded()) {
                if (auto applied = t.table.take(tx, m.limits.history_transactions)) m.fan_out(t, *applied);
            } else if (t.table.st == table_state::status::loading) {
                t.table.pending.push_back(tx);
            }
        }
        for (auto& name : tx.undecodable) on_undecodable_change(name, tx.position);
        // A topic waiting for the stream to reach its load position may now be complete.
        for (auto& [name, t] : m.topics)
            if (t.table.st == table_state::status::loading && t.table.load && m.position >= t.table.load->position)
                m.finish_load(t);
    }
    m.serve_ahead(false);
    if (refresh && m.hk.refresh_topics) m.hk.refresh_topics();
}

void hub::connect(conn_id id, std::shared_ptr<client> c, access who) {
    auto& m = *impl_;
    auto& conn = m.conns[id];
    conn.c = std::move(c);
    conn.who = std::move(who);
    if (!conn.who.user.empty()) m.by_user.emplace(conn.who.user, id);
    stats_.connections = m.conns.size();
}

namespace {

template <class Multimap, class Key, class Value>
void erase_pair(Multimap& mm, const Key& k, const Value& v) {
    auto range = mm.equal_range(k);
    for (auto u = range.first; u != range.second; ++u)
        if (u->second == v) {
            mm.erase(u);
            return;
        }
}

}  // namespace

void hub::set_access(conn_id id, access who) {
    auto& m = *impl_;
    auto it = m.conns.find(id);
    if (it == m.conns.end()) return;
    erase_pair(m.by_user, it->second.who.user, id);
    it->second.who = std::move(who);
    if (!it->second.who.user.empty()) m.by_user.emplace(it->second.who.user, id);
}

void hub::subscribe(conn_id id, const subscribe_request& req) {
    auto& m = *impl_;
    auto it = m.conns.find(id);
    if (it == m.conns.end()) return;
    auto& conn = it->second;
    std::string name = req.sub.empty() ? req.topic : req.sub;
    try {
        if (!conn.subs.count(name) && conn.subs.size() >= m.limits.max_subscriptions_per_connection)
            throw protocol_error(error_code::too_many_subscriptions,
                                 "at most " + std::to_string(m.limits.max_subscriptions_per_connection) +
                                     " subscriptions per connection (max_subscriptions_per_connection)",
                                 req.ref);
        auto s = m.make_subscription(id, conn.who, req);
        m.remove_connection_sub(conn, name);  // subscribing again under a name replaces it
        conn.subs[name] = s;
        auto& t = m.topics.at(req.topic);
        outgoing ok;
        ok.kind = outgoing::what::subscribed;
        ok.ref = req.ref;
        ok.sub = name;
        ok.topic = req.topic;
        ok.key = &t.table.info.key;
        ok.columns = &t.table.info.columns;
        if (s->sh && s->sh->view->entry_key()) {  // aggregates: the group columns, and their entry's fields
            ok.key = s->sh->view->entry_key();
            ok.columns = s->sh->view->entry_columns();
        }
        m.send_to(id, ok, frame_kind::reply);
        m.begin(t, *s);
    } catch (const protocol_error& e) {
        m.send_error(id, e.ref.empty() ? req.ref : e.ref, e.code, e.what());
    }
}

void hub::unsubscribe(conn_id id, const unsubscribe_request& req) {
    auto& m = *impl_;
    auto it = m.conns.find(id);
    if (it == m.conns.end()) return;
    if (!it->second.subs.count(req.sub)) {
        m.send_error(id, req.ref, error_code::bad_request, "no subscription named '" + req.sub + "'");
        return;
    }
    outgoing ok;
    ok.kind = outgoing::what::unsubscribed;
    ok.ref = req.ref;
    ok.sub = req.sub;
    ok.pos = it->second.subs.at(req.sub)->min_position;  // how far it had come: where to resume
    m.remove_connection_sub(it->second, req.sub);
    m.send_to(id, ok, frame_kind::reply);
}

void hub::disconnect(conn_id id) {
    auto& m = *impl_;
    auto it = m.conns.find(id);
    if (it == m.conns.end()) return;
    for (auto& [name, s] : it->second.subs) m.detach_subscription(*s);
    erase_pair(m.by_user, it->second.who.user, id);
    m.conns.erase(it);
    stats_.connections = m.conns.size();
}

void hub::resync(conn_id id, const std::unordered_map<uint64_t, int64_t>& have) {
    auto& m = *impl_;
    auto it = m.conns.find(id);
    if (it == m.conns.end()) return;
    ++stats_.resyncs;
    for (auto& [name, s] : it->second.subs) {
        if (!s->sh) continue;
        auto& t = m.topics.at(s->topic);
        auto h = have.find(s->tag);
        bool live = s->ph == impl::subscription::phase::live && t.loaded();
        if (live && h != have.end() && m.catch_up(t, *s, h->second)) continue;
        s->since.reset();  // whatever it was waiting for, a snapshot is now the answer
        if (t.loaded()) m.send_snapshot(t, *s);
        else s->ph = impl::subscription::phase::waiting_load;
    }
    it->second.c->resynced();
}

json hub::topics_json(const access& who) const {
    json out = json::array();
    for (auto& [name, info] : impl_->attached) {
        if (!who.may_read(name) || !resolve_policy(info, who).forbidden.empty()) continue;  // lacks a claim: reads nothing
        size_t subs = 0;
        if (auto t = impl_->topics.find(name); t != impl_->topics.end()) subs = t->second.subs.size();
        json t = {{"name", name}, {"key", info.key}, {"columns", info.columns}, {"subscribers", subs}};
        if (who.admin && !info.policy.empty()) t["policy"] = info.policy;  // the DBA's rule, not the readers'
        out.push_back(std::move(t));
    }
    return out;
}

}  // namespace pglive
