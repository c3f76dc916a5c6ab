// hub_delivery.cpp — the hub hands frames to its clients: replies, snapshots, patches (one frame per shape, sub name and format), messages.
#include <algorithm>
#include <unordered_set>

#include "hub/hub_impl.h"

namespace pglive {

namespace {

// A snapshot or patch of subscription `sub` of `topic` at `pos`.
outgoing sub_message(outgoing::what kind, const std::string& sub, const std::string& topic, int64_t pos,
                     const std::string& ts, const json& body) {
    outgoing o;
    o.kind = kind;
    o.sub = sub;
    o.topic = topic;
    o.pos = pos;
    o.ts = ts;
    o.body = &body;
    return o;
}

}  // namespace

client* hub::impl::client_of(const subscription& s) {
    auto it = conns.find(s.conn);
    return it == conns.end() ? nullptr : it->second.c.get();
}

void hub::impl::send_to(conn_id id, const outgoing& out, frame_kind kind) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    auto& c = *it->second.c;
    if (frame f = encode(c.format(), out)) c.send(std::move(f), kind);
}

void hub::impl::send_error(conn_id id, const std::string& ref, const std::string& code, const std::string& msg) {
    outgoing e;
    e.kind = outgoing::what::error;
    e.ref = ref;
    e.code = code;
    e.message = msg;
    send_to(id, e, frame_kind::reply);
}

void hub::impl::send_snapshot(topic& t, subscription& s) {
    s.ph = subscription::phase::live;
    s.min_position = t.table.position;
    json rows = s.list_rows ? s.sh->view->snapshot_list(t.table.rows) : s.sh->view->snapshot_rows(t.table.rows);
    client* c = client_of(s);
    if (!c) return;
    auto o = sub_message(outgoing::what::snapshot, s.sub, s.topic, t.table.position, {}, rows);
    c->send(encode(c->format(), o), frame_kind::snapshot, s.tag, {t.table.position, 0});
    ++stats().snapshots_sent;
}

// One patch for one subscription built on its own (resume); live fan-out uses fan_out().
void hub::impl::send_patch(subscription& s, int64_t pos, const std::string& ts, const json& ops) {
    if (ops.empty() || pos <= s.min_position) return;
    s.min_position = pos;
    client* c = client_of(s);
    if (!c) return;
    auto o = sub_message(outgoing::what::patch, s.sub, s.topic, pos, ts, ops);
    c->send(encode(c->format(), o), frame_kind::patch, s.tag, {pos, 0});
    ++stats().patches_sent;
    ++stats().patches_by_topic[s.topic];
}

bool hub::impl::catch_up(topic& t, subscription& s, int64_t have) {
    if (!s.sh->view->resumes_from_deltas() || have > s.min_position || lost_position(have)) return false;
    auto merged = t.table.merged_after(have);
    if (!merged || merged->rows.size() > t.table.rows.size()) return false;
    json ops = s.sh->view->resume_ops(*merged);
    s.min_position = t.table.position;
    ++stats().catch_ups;
    if (ops.empty()) return true;  // nothing it missed was in its view
    client* c = client_of(s);
    if (!c) return true;
    auto o = sub_message(outgoing::what::patch, s.sub, s.topic, merged->position, merged->ts, ops);
    o.from = have;
    // A snapshot-class frame: it ends a resync, so the connection admits it while dropping patches.
    c->send(encode(c->format(), o), frame_kind::snapshot, s.tag, {merged->position, 0});
    ++stats().patches_sent;
    ++stats().patches_by_topic[s.topic];
    return true;
}

// Live fan-out of one applied transaction: ops computed once per shape, each frame serialized
// once per (shape, sub name, format) and shared by pointer.
void hub::impl::fan_out(topic& t, const topic_tx& tx) {
    uint64_t sent = 0;
    for (auto& [id, shp] : t.shapes) {
        shared_shape& sh = *shp;
        if (sh.subs.empty()) continue;
        json ops = sh.view->live_ops(t.table.rows, tx);
        if (ops.empty()) continue;
        // One frame set per sub name; a shape's subscribers mostly share one.
        std::vector<frame_set> frames;
        for (subscription* s : sh.subs) {
            if (s->ph != subscription::phase::live || tx.position <= s->min_position) continue;
            client* c = client_of(*s);
            if (!c) continue;
            s->min_position = tx.position;
            auto b = std::find_if(frames.begin(), frames.end(), [&](const frame_set& x) { return x.message().sub == s->sub; });
            if (b == frames.end()) {
                b = frames.emplace(frames.end(), sub_message(outgoing::what::patch, s->sub, s->topic, tx.position, tx.ts, ops));
            }
            c->send(b->get(c->format()), frame_kind::patch, s->tag, {tx.position, tx.ts_us});
            ++sent;
        }
    }
    if (sent) {
        stats().patches_sent += sent;
        stats().patches_by_topic[t.name()] += sent;
    }
    if (!tx.messages.empty()) deliver_messages(t, tx.position, tx.messages);
    if (sent && hk.timings && hk.wall_us) (*hk.timings)[pipeline_stage::handed].observe_span(tx.ts_us, hk.wall_us());
}

void hub::impl::deliver_messages(topic& t, int64_t pos, const std::vector<json>& messages) {
    std::unordered_set<conn_id> seen;
    for (auto& data : messages) {
        outgoing o;
        o.kind = outgoing::what::message;
        o.topic = t.name();
        o.pos = pos;
        o.body = &data;
        frame_set frames(std::move(o));
        seen.clear();
        for (subscription* s : t.subs) {
            if (!seen.insert(s->conn).second) continue;
            client* c = client_of(*s);
            if (!c) continue;
            const frame& f = frames.get(c->format());
            if (!f) continue;  // a format without messages (poll)
            c->send(f, frame_kind::message);
            ++stats().messages_sent;
        }
    }
}

void hub::publish_user(const std::string& user, const json& data) {
    auto& m = *impl_;
    outgoing o;
    o.kind = outgoing::what::user_message;
    o.topic = user;
    o.body = &data;
    frame_set frames(std::move(o));
    auto range = m.by_user.equal_range(user);
    for (auto u = range.first; u != range.second; ++u) {
        auto c = m.conns.find(u->second);
        if (c == m.conns.end()) continue;
        const frame& f = frames.get(c->second.c->format());
        if (!f) continue;  // a format without messages (poll)
        c->second.c->send(f, frame_kind::message);
        ++stats_.messages_sent;
    }
}

}  // namespace pglive
