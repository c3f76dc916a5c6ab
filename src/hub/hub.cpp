// hub.cpp — topic state, subscription shapes, windows, resume and fan-out (pure, one strand).
#include "hub/hub.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <deque>
#include <list>
#include <set>
#include <unordered_set>

#include "core/exact_json.h"
#include "core/filter.h"
#include "core/key.h"
#include "core/patch.h"

namespace pglive {

namespace {

// One row's net change in one transaction: its state before and after (null = absent).
struct row_delta {
    std::string key;
    json before;
    json after;
};

// A transaction as one topic saw it: net row deltas in first-touch order, or messages.
struct topic_tx {
    int64_t position = 0;
    std::string ts;
    std::vector<row_delta> rows;
    std::vector<json> messages;
    bool truncated = false;
};

bool is_channel(const std::string& topic) { return topic.find('.') == std::string::npos; }

std::string sse_record(const char* event, int64_t pos, const std::string& data) {
    std::string s;
    s.reserve(data.size() + 48);
    s += "event: ";
    s += event;
    s += '\n';
    if (pos >= 0) {  // -1: no id (user messages, errors), so the stream's last id stays
        s += "id: ";
        s += std::to_string(pos);
        s += '\n';
    }
    s += "data: ";
    s += data;
    s += "\n\n";
    return s;
}

json visible(const json& row, const row_filter& f) { return (!row.is_null() && f.matches(row)) ? row : json(); }

// The outbox may carry a statement's rows as arrays; the hub works row by row. An UPDATE's
// old and new arrays pair by key: same key → update, old-only → remove, new-only → insert.
std::vector<change> expand(const change& ch, const std::vector<std::string>& key) {
    bool arrays = ch.old_row.is_array() || ch.new_row.is_array();
    if (!arrays) return {ch};
    std::vector<change> out;
    auto one = [&](op_kind op, const json& o, const json& n) { out.push_back(change{ch.topic, op, o, n}); };
    if (ch.op == op_kind::insert) {
        for (auto& r : ch.new_row) one(op_kind::insert, json(), r);
    } else if (ch.op == op_kind::remove) {
        for (auto& r : ch.old_row) one(op_kind::remove, r, json());
    } else if (ch.op == op_kind::update) {
        std::unordered_map<std::string, const json*> old_by_key;
        if (ch.old_row.is_array())
            for (auto& r : ch.old_row) old_by_key.emplace(row_key(r, key), &r);
        if (ch.new_row.is_array())
            for (auto& r : ch.new_row) {
                auto k = row_key(r, key);
                auto o = old_by_key.find(k);
                if (o == old_by_key.end()) {
                    one(op_kind::insert, json(), r);
                } else {
                    one(op_kind::update, *o->second, r);
                    old_by_key.erase(o);
                }
            }
        if (ch.old_row.is_array())  // removes first keeps a key change's remove before its add
            for (auto& r : ch.old_row)
                if (old_by_key.count(row_key(r, key))) out.insert(out.begin(), change{ch.topic, op_kind::remove, r, json()});
    } else {
        out.push_back(ch);
    }
    return out;
}

// The one point where a change's row images become the hub's rows: the SQL NULL json/jsonb
// columns that the capture left out are put back (restore_sql_nulls). Without such columns the
// change is used as it is.
const change& with_sql_nulls(const change& ch, const std::vector<std::string>& json_cols, change& scratch) {
    if (json_cols.empty()) return ch;
    scratch = ch;
    restore_sql_nulls(scratch.old_row, json_cols);
    restore_sql_nulls(scratch.new_row, json_cols);
    return scratch;
}

// The topic's json/jsonb columns (by their types), whose SQL NULLs row images leave out.
std::vector<std::string> json_columns(const topic_info& info) {
    std::vector<std::string> out;
    for (size_t i = 0; i < info.columns.size() && i < info.types.size(); ++i)
        if (is_json_type(info.types[i])) out.push_back(info.columns[i]);
    return out;
}

// One transaction's net row deltas for `topic`, from the outbox's row images alone (no state
// needed): used where the state does not hold the transaction's "before" — resume from the
// outbox, and transactions that a load's rows already contain. A TRUNCATE sets `truncated`:
// the rows it removed are not in the outbox.
topic_tx image_tx(const transaction& tx, const topic_info& info, const std::vector<std::string>& json_cols) {
    topic_tx out;
    out.position = tx.position;
    out.ts = tx.ts;
    std::unordered_map<std::string, size_t> index;  // key → out.rows slot
    auto touch = [&](const std::string& key, const json& before) -> row_delta& {
        auto [it, fresh] = index.try_emplace(key, out.rows.size());
        if (fresh) out.rows.push_back(row_delta{key, before, json()});
        return out.rows[it->second];
    };
    change scratch;
    for (auto& stmt : tx.changes) {
        if (stmt.topic != info.topic) continue;
        for (auto& raw : expand(stmt, info.key)) switch (const change& ch = with_sql_nulls(raw, json_cols, scratch); ch.op) {
        case op_kind::insert:
            touch(row_key(ch.new_row, info.key), json()).after = ch.new_row;
            break;
        case op_kind::update: {
            std::string ko = row_key(ch.old_row, info.key), kn = row_key(ch.new_row, info.key);
            if (ko != kn) {
                touch(ko, ch.old_row).after = json();
                touch(kn, json()).after = ch.new_row;
            } else {
                touch(kn, ch.old_row).after = ch.new_row;
            }
            break;
        }
        case op_kind::remove:
            touch(row_key(ch.old_row, info.key), ch.old_row).after = json();
            break;
        case op_kind::truncate:
            out.truncated = true;
            break;
        case op_kind::message:
            out.messages.push_back(ch.new_row);
            break;
        case op_kind::control:
            break;
        }
    }
    out.rows.erase(std::remove_if(out.rows.begin(), out.rows.end(), [](const row_delta& d) { return d.before == d.after; }),
                   out.rows.end());
    return out;
}

// "2026-11-22T10:00:00.123456Z" → µs since the epoch; 0 when unreadable.
int64_t parse_ts_us(const std::string& ts) {
    std::tm tm{};
    int us = 0;
    if (ts.size() < 20 || sscanf(ts.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                                 &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    if (ts[19] == '.') {
        int digits = 0;
        for (size_t i = 20; i < ts.size() && isdigit(static_cast<unsigned char>(ts[i])) && digits < 6; ++i, ++digits)
            us = us * 10 + (ts[i] - '0');
        while (digits++ < 6) us *= 10;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return int64_t(timegm(&tm)) * 1000000 + us;
}

poll_answer error_answer(int status, const std::string& code, const std::string& message) {
    return poll_answer{status, json{{"error", code}, {"message", message}}.dump()};
}

}  // namespace

struct hub::impl {
    struct shape;
    struct topic_state;

    struct subscription {
        conn_id conn = 0;
        uint64_t tag = 0;           // unique: names its frames in the connection's queue
        std::string sub;
        std::string topic;
        shape* sh = nullptr;        // null for a channel (messages only)
        // Resume: patches at or below this position are not sent (the client already has them).
        int64_t min_position = 0;
        enum class phase { waiting_load, waiting_history, waiting_stream, live } ph = phase::waiting_load;
        int64_t stream_deadline = 0;   // waiting_stream: when a snapshot answers instead
        std::optional<int64_t> since;  // while waiting: resume point, or nullopt for a snapshot
        int64_t history_upto = 0;      // waiting_history: the outbox is read up to here
        // Long-poll: answers once, then the subscription is removed.
        std::function<void(poll_answer)> poll_done;
        json poll_patches = json::array();
        json poll_snapshot;           // set when a snapshot is the answer
        int64_t poll_pos = 0;
    };
    using sub_ptr = std::shared_ptr<subscription>;

    // Subscriptions sharing (topic, filter, order, limit) share one computation per transaction.
    struct shape {
        std::string id;
        row_filter filter;
        row_order order;
        std::optional<int64_t> limit;
        std::vector<std::string> window;  // keys in order, when limit is set
        std::set<subscription*> subs;
    };

    struct topic_state {
        topic_info info;
        enum class status { unloaded, loading, loaded } st = status::unloaded;
        std::unordered_map<std::string, json> rows;  // key → row (exposed columns)
        std::vector<std::string> json_cols;          // json/jsonb columns (see with_sql_nulls)
        int64_t position = 0;                        // state = every transaction <= position
        // Loading: the load answer, and transactions received since the load was asked for.
        std::optional<topic_load> load;
        std::vector<transaction> pending;
        // Resume history: every transaction touching the topic with position > history_floor.
        std::deque<std::shared_ptr<const topic_tx>> history;
        int64_t history_floor = 0;
        std::map<std::string, std::unique_ptr<shape>> shapes;
        std::set<subscription*> subs;  // every subscription of the topic (channels: no shape)
        int64_t idle_since = 0;
        // A load the database failed (a restart): tick() asks again then, backing off.
        int64_t retry_load_at = 0;
        int load_failures = 0;
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
    std::map<std::string, topic_state> topics;
    std::unordered_map<conn_id, connection> conns;
    std::unordered_multimap<std::string, conn_id> by_user;
    std::map<uint64_t, sub_ptr> polls;
    uint64_t next_poll = 1;
    uint64_t next_tag = 1;
    std::set<subscription*> ahead;  // waiting_stream: resumed from a position the stream has not reached
    int64_t gap_upto = 0;  // the end of the last gap the listener reported
    int64_t position = 0;  // the last transaction received

    impl(hub& o, hooks h, hub_limits l) : owner(o), hk(std::move(h)), limits(l) {}

    hub_stats& stats() { return owner.stats_; }
    int64_t now() const { return hk.now_ms ? hk.now_ms() : 0; }

    // ---------------------------------------------------------------- delivery
    client* client_of(const subscription& s) {
        auto it = conns.find(s.conn);
        return it == conns.end() ? nullptr : it->second.c.get();
    }

    void send_reply(conn_id id, const std::string& text) {
        auto it = conns.find(id);
        if (it == conns.end()) return;
        auto& c = *it->second.c;
        if (c.format() == wire_format::sse) return;  // SSE has no request/reply channel
        c.send(make_frame(text), frame_kind::reply);
    }

    void send_error(conn_id id, const std::string& ref, const std::string& code, const std::string& msg) {
        auto it = conns.find(id);
        if (it == conns.end()) return;
        auto& c = *it->second.c;
        std::string text = error_message(ref, code, msg);
        if (c.format() == wire_format::sse) text = sse_record("error", -1, text);
        c.send(make_frame(std::move(text)), frame_kind::reply);
    }

    json snapshot_rows(topic_state& t, shape& sh) {
        json rows = json::object();
        if (sh.limit) {
            for (auto& k : sh.window)
                if (auto it = t.rows.find(k); it != t.rows.end()) rows[k] = it->second;
        } else {
            for (auto& [k, row] : t.rows)
                if (sh.filter.matches(row)) rows[k] = row;
        }
        return rows;
    }

    void send_snapshot(topic_state& t, subscription& s) {
        s.ph = subscription::phase::live;
        s.min_position = t.position;
        json rows = snapshot_rows(t, *s.sh);
        if (s.poll_done) {
            s.poll_snapshot = std::move(rows);
            s.poll_pos = t.position;
            return;
        }
        client* c = client_of(s);
        if (!c) return;
        std::string text = snapshot_message(s.sub, s.topic, t.position, rows);
        if (c->format() == wire_format::sse) text = sse_record("snapshot", t.position, text);
        c->send(make_frame(std::move(text)), frame_kind::snapshot, s.tag);
        ++stats().snapshots_sent;
    }

    // One patch for one subscription built on its own (resume); live fan-out uses fan_out().
    void send_patch(subscription& s, int64_t pos, const std::string& ts, const json& ops) {
        if (ops.empty() || pos <= s.min_position) return;
        s.min_position = pos;
        if (s.poll_done) {
            s.poll_patches.push_back(json{{"pos", std::to_string(pos)}, {"ts", ts}, {"patch", ops}});
            s.poll_pos = pos;
            return;
        }
        client* c = client_of(s);
        if (!c) return;
        std::string text = patch_message(s.sub, s.topic, pos, ts, ops);
        if (c->format() == wire_format::sse) text = sse_record("patch", pos, text);
        c->send(make_frame(std::move(text)), frame_kind::patch, s.tag);
        ++stats().patches_sent;
        ++stats().patches_by_topic[s.topic];
    }

    // Ops a subscription of this shape needs for one transaction, computed from the deltas alone
    // (no window: used for resume, where the window's state at `since` is not known).
    static json stateless_ops(const topic_tx& tx, const row_filter& f) {
        json ops = json::array();
        for (auto& d : tx.rows) append_row_ops(ops, d.key, visible(d.before, f), d.key, visible(d.after, f));
        return ops;
    }

    // ---------------------------------------------------------------- long-poll
    void flush_polls() {
        for (auto it = polls.begin(); it != polls.end();) {
            auto& s = *it->second;
            bool ready = !s.poll_snapshot.is_null() || !s.poll_patches.empty();
            if (!ready) {
                ++it;
                continue;
            }
            json body = {{"topic", s.topic}, {"pos", std::to_string(s.poll_pos)}};
            if (!s.poll_snapshot.is_null())
                body["snapshot"] = std::move(s.poll_snapshot);
            else
                body["patches"] = std::move(s.poll_patches);
            auto done = std::move(s.poll_done);
            sub_ptr keep = it->second;
            it = polls.erase(it);
            detach_subscription(*keep);
            done(poll_answer{200, dump_exact(body)});  // row values: exact numbers
        }
    }

    // ---------------------------------------------------------------- topics
    topic_state* topic_for(const std::string& name) {
        auto it = topics.find(name);
        if (it != topics.end()) return &it->second;
        auto at = attached.find(name);
        if (at == attached.end() && !is_channel(name)) return nullptr;
        auto& t = topics[name];
        if (at != attached.end()) t.info = at->second;
        else t.info.topic = name;
        return &t;
    }

    // Reads the topic again; every subscription then gets a fresh snapshot (whatever it was
    // resuming from means nothing any more): a re-attach, a gap, an undecodable change.
    void reload(topic_state& t) {
        t.st = topic_state::status::unloaded;
        for (auto* s : t.subs)
            if (s->sh) {
                s->ph = subscription::phase::waiting_load;
                s->since.reset();
            }
        request_load(t);
    }

    void request_load(topic_state& t) {
        if (t.st == topic_state::status::loading) return;
        t.st = topic_state::status::loading;
        t.load.reset();
        t.pending.clear();
        if (hk.load_topic) hk.load_topic(t.info.topic);
    }

    shape& shape_for(topic_state& t, row_filter f, row_order o, std::optional<int64_t> limit) {
        std::string id = f.canonical() + "|" + o.canonical() + "|" + (limit ? std::to_string(*limit) : "");
        auto& slot = t.shapes[id];
        if (!slot) {
            slot = std::make_unique<shape>();
            slot->id = id;
            slot->filter = std::move(f);
            slot->order = std::move(o);
            slot->limit = limit;
            if (t.st == topic_state::status::loaded) recompute_window(t, *slot);
        }
        return *slot;
    }

    void recompute_window(topic_state& t, shape& sh) {
        if (!sh.limit) return;
        std::vector<std::pair<const std::string*, const json*>> cand;
        for (auto& [k, row] : t.rows)
            if (sh.filter.matches(row)) cand.emplace_back(&k, &row);
        size_t n = std::min<size_t>(cand.size(), size_t(*sh.limit));
        auto less = [&](const auto& a, const auto& b) { return sh.order.before(*a.second, *a.first, *b.second, *b.first); };
        std::partial_sort(cand.begin(), cand.begin() + n, cand.end(), less);
        sh.window.clear();
        for (size_t i = 0; i < n; ++i) sh.window.push_back(*cand[i].first);
    }

    // Applies one transaction's changes for topic t to its state; returns the net deltas.
    std::shared_ptr<topic_tx> apply(topic_state& t, const transaction& tx) {
        auto out = std::make_shared<topic_tx>();
        out->position = tx.position;
        out->ts = tx.ts;
        std::unordered_map<std::string, size_t> index;  // key → out->rows slot
        auto touch = [&](const std::string& key) -> row_delta& {
            auto [it, fresh] = index.try_emplace(key, out->rows.size());
            if (fresh) {
                auto cur = t.rows.find(key);
                out->rows.push_back(row_delta{key, cur == t.rows.end() ? json() : cur->second, json()});
            }
            return out->rows[it->second];
        };
        auto put = [&](const json& row) {
            std::string k = row_key(row, t.info.key);
            touch(k);
            t.rows[k] = row;
        };
        auto erase = [&](const std::string& k) {
            touch(k);
            t.rows.erase(k);
        };
        change scratch;
        for (auto& stmt : tx.changes) {
            if (stmt.topic != t.info.topic) continue;
            for (auto& raw : expand(stmt, t.info.key)) switch (const change& ch = with_sql_nulls(raw, t.json_cols, scratch); ch.op) {
            case op_kind::insert:
                put(ch.new_row);
                break;
            case op_kind::update: {
                std::string ko = row_key(ch.old_row, t.info.key);
                std::string kn = row_key(ch.new_row, t.info.key);
                if (ko != kn) erase(ko);
                put(ch.new_row);
                break;
            }
            case op_kind::remove:
                erase(row_key(ch.old_row, t.info.key));
                break;
            case op_kind::truncate: {
                std::vector<std::string> keys;
                keys.reserve(t.rows.size());
                for (auto& [k, _] : t.rows) keys.push_back(k);
                for (auto& k : keys) erase(k);
                out->truncated = true;
                break;
            }
            case op_kind::message:
                out->messages.push_back(ch.new_row);
                break;
            case op_kind::control:
                break;
            }
        }
        for (auto& d : out->rows) {
            auto cur = t.rows.find(d.key);
            if (cur != t.rows.end()) d.after = cur->second;
        }
        // A row written and then deleted in one transaction leaves nothing to say.
        out->rows.erase(std::remove_if(out->rows.begin(), out->rows.end(),
                                       [](const row_delta& d) { return d.before == d.after; }),
                        out->rows.end());
        t.position = tx.position;
        return out;
    }

    // Live fan-out of one applied transaction: ops computed once per shape, each frame
    // serialized once per (shape, sub name, format) and shared by pointer.
    void observe_latency(const std::string& ts) {
        if (!hk.wall_us) return;
        int64_t commit = parse_ts_us(ts);
        if (commit == 0) return;
        double seconds = double(hk.wall_us() - commit) / 1e6;
        auto& st = stats();
        size_t i = 0;
        while (i < std::size(hub_stats::latency_buckets) && seconds > hub_stats::latency_buckets[i]) ++i;
        if (i < std::size(hub_stats::latency_buckets)) ++st.latency_counts[i];
        ++st.latency_count;
        st.latency_sum += seconds;
    }

    void fan_out(topic_state& t, const topic_tx& tx) {
        uint64_t sent_before = stats().patches_sent, sent = 0;
        for (auto& [id, shp] : t.shapes) {
            shape& sh = *shp;
            if (sh.subs.empty()) continue;
            json ops = json::array();
            if (!sh.limit) {
                ops = stateless_ops(tx, sh.filter);
            } else {
                bool relevant = false;
                for (auto& d : tx.rows)
                    if ((!d.before.is_null() && sh.filter.matches(d.before)) ||
                        (!d.after.is_null() && sh.filter.matches(d.after)))
                        relevant = true;
                if (!relevant) continue;
                std::vector<std::string> old_window = std::move(sh.window);
                recompute_window(t, sh);
                std::unordered_set<std::string> was(old_window.begin(), old_window.end());
                std::unordered_set<std::string> now(sh.window.begin(), sh.window.end());
                std::unordered_map<std::string, const row_delta*> delta;
                for (auto& d : tx.rows) delta.emplace(d.key, &d);
                for (auto& k : old_window)
                    if (!now.count(k)) ops.push_back(json{{"op", "remove"}, {"path", "/" + pointer_escape(k)}});
                for (auto& k : sh.window) {
                    if (!was.count(k)) {
                        ops.push_back(json{{"op", "add"}, {"path", "/" + pointer_escape(k)}, {"value", t.rows.at(k)}});
                    } else if (auto d = delta.find(k); d != delta.end()) {
                        append_row_ops(ops, k, d->second->before, k, d->second->after);
                    }
                }
            }
            if (ops.empty()) continue;
            // One frame per (sub name, wire format); a shape's subscribers mostly share one.
            struct built {
                const std::string* sub;
                wire_format format;
                frame f;
            };
            std::vector<built> frames;
            for (subscription* s : sh.subs) {
                if (s->ph != subscription::phase::live || tx.position <= s->min_position) continue;
                if (s->poll_done) {
                    send_patch(*s, tx.position, tx.ts, ops);
                    continue;
                }
                client* c = client_of(*s);
                if (!c) continue;
                s->min_position = tx.position;
                wire_format fmt = c->format();
                auto b = std::find_if(frames.begin(), frames.end(),
                                      [&](const built& x) { return x.format == fmt && *x.sub == s->sub; });
                if (b == frames.end()) {
                    std::string text = patch_message(s->sub, s->topic, tx.position, tx.ts, ops);
                    if (fmt == wire_format::sse) text = sse_record("patch", tx.position, text);
                    b = frames.insert(frames.end(), built{&s->sub, fmt, make_frame(std::move(text))});
                }
                c->send(b->f, frame_kind::patch, s->tag);
                ++sent;
            }
        }
        if (sent) {
            stats().patches_sent += sent;
            stats().patches_by_topic[t.info.topic] += sent;
        }
        if (!tx.messages.empty()) deliver_messages(t, tx.position, tx.messages);
        if (stats().patches_sent != sent_before) observe_latency(tx.ts);
    }

    void deliver_messages(topic_state& t, int64_t pos, const std::vector<json>& messages) {
        std::unordered_set<conn_id> seen;
        for (auto& data : messages) {
            frame json_frame, sse_frame;
            seen.clear();
            for (subscription* s : t.subs) {
                if (s->poll_done || !seen.insert(s->conn).second) continue;
                client* c = client_of(*s);
                if (!c) continue;
                auto& f = c->format() == wire_format::sse ? sse_frame : json_frame;
                if (!f) {
                    std::string text = message_message(t.info.topic, data);
                    if (c->format() == wire_format::sse) text = sse_record("message", pos, text);
                    f = make_frame(std::move(text));
                }
                c->send(f, frame_kind::message);
                ++stats().messages_sent;
            }
        }
    }

    void remember(topic_state& t, std::shared_ptr<const topic_tx> tx) {
        t.history.push_back(std::move(tx));
        while (t.history.size() > limits.history_transactions) {
            t.history_floor = t.history.front()->position;
            t.history.pop_front();
        }
    }

    // A loaded topic takes one transaction: state, history, live patches.
    void process(topic_state& t, const transaction& tx) {
        auto applied = apply(t, tx);
        if (applied->rows.empty() && applied->messages.empty()) return;
        remember(t, applied);
        fan_out(t, *applied);
    }

    // The load has answered and the hub has received every transaction up to its label P*
    // (docs/DESIGN.md, "Snapshot hand-off"). The buffered transactions after P_rr are replayed
    // in order: one whose xid the load's snapshot saw (at or below P*) is already in the rows
    // and only goes into history, any other is applied. Windows are computed after the replay,
    // on the state that the snapshots show.
    void finish_load(topic_state& t) {
        topic_load& ld = *t.load;
        t.rows.clear();
        for (auto& row : ld.rows) {
            restore_sql_nulls(row, t.json_cols);
            t.rows.emplace(row_key(row, t.info.key), std::move(row));
        }
        t.position = ld.read_position;
        t.history.clear();
        t.history_floor = ld.read_position;  // history holds every transaction after P_rr
        t.st = topic_state::status::loaded;
        const pg_snapshot snap = ld.snapshot;
        const int64_t read_at = ld.read_position, label = ld.position;
        std::vector<transaction> pending = std::move(t.pending);
        t.pending.clear();
        t.load.reset();
        bool stale = false;
        for (auto& tx : pending) {
            if (tx.position <= read_at) continue;  // in the rows, and below history's floor
            if (tx.position <= label && snap.visible(tx.xid)) {
                // In the rows already; a client resuming from before it still needs its patch.
                auto seen = std::make_shared<topic_tx>(image_tx(tx, t.info, t.json_cols));
                if (seen->truncated) {  // the rows it removed are unknown: resume across it resyncs
                    t.history.clear();
                    t.history_floor = tx.position;
                } else if (!seen->rows.empty() || !seen->messages.empty()) {
                    remember(t, std::move(seen));
                }
                t.position = tx.position;
                continue;
            }
            // Not in the rows: committed after the snapshot. Subscribers have no snapshot yet,
            // so only the state and history move.
            if (std::find(tx.undecodable.begin(), tx.undecodable.end(), t.info.topic) != tx.undecodable.end())
                stale = true;  // a change the rows miss and that cannot be applied: read again
            auto applied = apply(t, tx);
            if (!applied->rows.empty() || !applied->messages.empty()) remember(t, applied);
        }
        if (stale) {
            reload(t);
            return;
        }
        t.position = std::max(t.position, position);
        for (auto& [id, sh] : t.shapes) recompute_window(t, *sh);
        // Serve every subscription that was waiting for this topic.
        std::vector<subscription*> waiting(t.subs.begin(), t.subs.end());
        for (subscription* s : waiting)
            if (s->ph == subscription::phase::waiting_load) start_subscription(t, *s);
    }

    // A subscription on a loaded topic: snapshot, or resume from `since`.
    void start_subscription(topic_state& t, subscription& s) {
        if (!s.sh) {  // a channel: messages only
            s.ph = subscription::phase::live;
            s.min_position = position;
            return;
        }
        if (s.since && *s.since > position) {
            // This node lags, or the position exists nowhere: wait a while, so that whatever the
            // answer (patches, or a window's snapshot), positions never go back below `since`.
            s.ph = subscription::phase::waiting_stream;
            s.stream_deadline = now() + limits.future_since_wait_ms;
            ahead.insert(&s);
            return;
        }
        if (!s.since || s.sh->limit) {
            send_snapshot(t, s);
            return;
        }
        int64_t since = *s.since;
        if (since >= t.history_floor) {
            resume_from_memory(t, s, since);
            return;
        }
        // Older than what memory holds: read the outbox (any node can resume any client).
        s.ph = subscription::phase::waiting_history;
        s.history_upto = t.history_floor;
        if (hk.load_history) hk.load_history(t.info.topic, since, t.history_floor);
        else send_snapshot(t, s);
    }

    void resume_from_memory(topic_state& t, subscription& s, int64_t since) {
        s.ph = subscription::phase::live;
        s.min_position = since;
        for (auto& tx : t.history) {
            if (tx->position <= since) continue;
            send_patch(s, tx->position, tx->ts, stateless_ops(*tx, s.sh->filter));
        }
        s.min_position = std::max(s.min_position, t.position);
    }

    // ---------------------------------------------------------------- subscriptions
    // Subscriptions whose `since` the stream has reached resume; past their deadline, a snapshot.
    void serve_ahead(bool deadline_passed) {
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
            if (t->second.st == topic_state::status::loaded) start_subscription(t->second, *s);
            else s->ph = subscription::phase::waiting_load;
        }
    }

    void detach_subscription(subscription& s) {
        ahead.erase(&s);
        auto t = topics.find(s.topic);
        if (t != topics.end()) {
            t->second.subs.erase(&s);
            if (s.sh) {
                s.sh->subs.erase(&s);
                if (s.sh->subs.empty()) t->second.shapes.erase(s.sh->id);
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

    // Validates and registers a subscription; throws protocol_error.
    sub_ptr make_subscription(conn_id id, const access& who, const subscribe_request& req) {
        if (auto why = owner.refusal(req, who)) throw *why;
        topic_state* t = topic_for(req.topic);
        if (!t) throw protocol_error(error_code::unknown_topic, "no attached table " + req.topic, req.ref);
        auto s = std::make_shared<subscription>();
        s->conn = id;
        s->tag = next_tag++;
        s->sub = req.sub.empty() ? req.topic : req.sub;
        s->topic = req.topic;
        s->since = req.since;
        if (!is_channel(req.topic) || attached.count(req.topic)) {
            row_filter f;
            row_order o;
            // Column types come with the attached list (a load's topic_info may lack them).
            const std::vector<std::string>* types = &t->info.types;
            if (auto at = attached.find(req.topic); at != attached.end() && at->second.columns == t->info.columns)
                types = &at->second.types;
            try {
                f = row_filter::parse(req.filter, t->info.columns, *types);
                o = row_order::parse(req.order, t->info.columns, *types);
            } catch (const filter_error& e) {
                throw protocol_error(error_code::bad_filter, e.what(), req.ref);
            }
            s->sh = &shape_for(*t, std::move(f), std::move(o), req.limit);
            s->sh->subs.insert(s.get());
        }
        t->subs.insert(s.get());
        if (attached.count(req.topic)) ++stats().subscriptions_by_topic[req.topic];  // series for attached topics only
        return s;
    }

    void begin(topic_state& t, subscription& s) {
        if (!s.sh || t.st == topic_state::status::loaded) {
            start_subscription(t, s);
        } else {
            s.ph = subscription::phase::waiting_load;
            request_load(t);
        }
    }

    void remove_connection_sub(connection& c, const std::string& name) {
        auto it = c.subs.find(name);
        if (it == c.subs.end()) return;
        c.c->supersede(it->second->tag);  // what it still has queued is of no use any more
        detach_subscription(*it->second);
        c.subs.erase(it);
    }

    void drop_topic_subscriptions(const std::string& topic, const std::string& why) {
        for (auto& [id, c] : conns) {
            std::vector<std::string> names;
            for (auto& [name, s] : c.subs)
                if (s->topic == topic) names.push_back(name);
            for (auto& name : names) {
                send_error(id, "", error_code::unknown_topic, why);
                remove_connection_sub(c, name);
            }
        }
        for (auto it = polls.begin(); it != polls.end();) {
            if (it->second->topic == topic) {
                auto done = std::move(it->second->poll_done);
                detach_subscription(*it->second);
                it = polls.erase(it);
                done(error_answer(404, error_code::unknown_topic, why));
            } else {
                ++it;
            }
        }
    }
};

// ==================================================================== hub

hub::hub(hooks h, hub_limits limits) : impl_(std::make_unique<impl>(*this, std::move(h), limits)) {}
hub::~hub() = default;

void hub::set_topics(std::vector<topic_info> list) {
    auto& m = *impl_;
    std::map<std::string, topic_info> next;
    for (auto& t : list) next.emplace(t.topic, std::move(t));
    for (auto& [name, t] : m.topics) {
        if (is_channel(name)) continue;
        auto it = next.find(name);
        if (it == next.end()) {
            m.drop_topic_subscriptions(name, "table " + name + " was detached");
            t.st = impl::topic_state::status::unloaded;
            t.rows.clear();
            t.history.clear();
        } else if (it->second.key != t.info.key || it->second.columns != t.info.columns) {
            // Re-attached with another key or columns: reload and give everyone a fresh snapshot.
            t.info = it->second;
            if (t.st != impl::topic_state::status::unloaded) m.reload(t);
        }
    }
    m.attached = std::move(next);
    for (auto* series : {&stats_.changes_by_topic, &stats_.patches_by_topic, &stats_.subscriptions_by_topic})
        for (auto it = series->begin(); it != series->end();)
            it = m.attached.count(it->first) ? std::next(it) : series->erase(it);
    std::vector<std::string> dead;
    for (auto& [name, t] : m.topics)
        if (!is_channel(name) && !m.attached.count(name) && t.subs.empty()) dead.push_back(name);
    for (auto& name : dead) m.topics.erase(name);
    stats_.topics_held = m.topics.size();
}

void hub::start_at(int64_t position) {
    impl_->position = std::max(impl_->position, position);
    stats_.position = impl_->position;
}

bool hub::topic_known(const std::string& topic) const { return impl_->attached.count(topic) > 0; }

std::optional<protocol_error> hub::refusal(const subscribe_request& req, const access& who) const {
    if (!who.may_read(req.topic))
        return protocol_error(error_code::forbidden, "not allowed to read topic " + req.topic, req.ref);
    auto at = impl_->attached.find(req.topic);
    if (at == impl_->attached.end()) {
        if (is_channel(req.topic)) return std::nullopt;  // a channel: messages only, no columns
        return protocol_error(error_code::unknown_topic, "no attached table " + req.topic, req.ref);
    }
    try {
        row_filter::parse(req.filter, at->second.columns, at->second.types);
        row_order::parse(req.order, at->second.columns, at->second.types);
    } catch (const filter_error& e) {
        return protocol_error(error_code::bad_filter, e.what(), req.ref);
    }
    return std::nullopt;
}

void hub::on_transactions(const std::vector<transaction>& txs) {
    auto& m = *impl_;
    bool refresh = false;
    for (auto& tx : txs) {
        if (tx.position <= m.position) continue;  // never twice
        m.position = tx.position;
        ++stats_.transactions;
        stats_.position = tx.position;
        stats_.last_ts = tx.ts;
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
            if (t.st == impl::topic_state::status::loaded) {
                m.process(t, tx);
            } else if (t.st == impl::topic_state::status::loading) {
                t.pending.push_back(tx);
            }
        }
        for (auto& name : tx.undecodable) on_undecodable_change(name, tx.position);
        // A topic waiting for the stream to reach its load position may now be complete.
        for (auto& [name, t] : m.topics)
            if (t.st == impl::topic_state::status::loading && t.load && m.position >= t.load->position)
                m.finish_load(t);
    }
    m.serve_ahead(false);
    m.flush_polls();
    if (refresh && m.hk.refresh_topics) m.hk.refresh_topics();
}

void hub::on_topic_loaded(topic_load load) {
    auto& m = *impl_;
    auto it = m.topics.find(load.info.topic.empty() ? std::string() : load.info.topic);
    if (it == m.topics.end()) return;  // nobody waits any more
    auto& t = it->second;
    if (t.st != impl::topic_state::status::loading) return;
    if (!load.error.empty() && load.transient && !t.subs.empty()) {
        // The database is away, not the table: the subscribers wait (and /healthz says why);
        // the load is asked again from tick(), 100 ms doubling to 5 s.
        t.st = impl::topic_state::status::unloaded;
        t.pending.clear();
        t.retry_load_at = m.now() + std::min<int64_t>(5000, int64_t(100) << std::min(t.load_failures, 6));
        ++t.load_failures;
        return;
    }
    if (!load.error.empty()) {
        t.st = impl::topic_state::status::unloaded;
        t.pending.clear();
        m.drop_topic_subscriptions(t.info.topic, load.error);
        m.flush_polls();
        return;
    }
    t.load_failures = 0;
    if (load.read_position < m.gap_upto) {
        // Its snapshot predates a gap's end: the rows miss what retention removed unseen, and
        // no buffered transaction carries it. Read again.
        t.st = impl::topic_state::status::unloaded;
        m.request_load(t);
        return;
    }
    t.info = load.info;
    // Column types come with the attached list (a load's topic_info lacks them).
    auto at = m.attached.find(t.info.topic);
    t.json_cols = at == m.attached.end() ? std::vector<std::string>{} : json_columns(at->second);
    t.load = std::move(load);
    if (m.position >= t.load->position) m.finish_load(t);
    m.flush_polls();
}

void hub::on_history(const std::string& topic, int64_t after, history_result result) {
    auto& m = *impl_;
    auto it = m.topics.find(topic);
    if (it == m.topics.end()) return;
    auto& t = it->second;
    std::vector<impl::subscription*> waiting;
    for (auto* s : t.subs)
        if (s->ph == impl::subscription::phase::waiting_history && s->since && *s->since == after) waiting.push_back(s);
    if (waiting.empty()) return;
    bool gap = false;  // memory's history moved on while the outbox was read
    for (auto* s : waiting) gap = gap || t.history_floor > s->history_upto;
    if (!result.error.empty() || !result.complete || t.st != impl::topic_state::status::loaded || gap) {
        for (auto* s : waiting) {
            s->since.reset();
            if (t.st == impl::topic_state::status::loaded) m.send_snapshot(t, *s);
            else s->ph = impl::subscription::phase::waiting_load;
        }
        m.flush_polls();
        return;
    }
    // Deltas from the outbox's row images (no state at `after` is needed for unwindowed views).
    std::vector<topic_tx> txs;
    for (auto& tx : result.transactions) {
        if (tx.position <= after || tx.position > t.history_floor) continue;
        topic_tx out = image_tx(tx, t.info, t.json_cols);
        bool undecodable = std::find(tx.undecodable.begin(), tx.undecodable.end(), topic) != tx.undecodable.end();
        // The rows a TRUNCATE removed are not in the outbox, and a change pglive could not
        // decode has no rows at all: resync instead.
        if (out.truncated || undecodable) {
            for (auto* s : waiting) {
                s->since.reset();
                m.send_snapshot(t, *s);
            }
            m.flush_polls();
            return;
        }
        txs.push_back(std::move(out));
    }
    for (auto* s : waiting) {
        s->ph = impl::subscription::phase::live;
        s->min_position = after;
        for (auto& tx : txs) m.send_patch(*s, tx.position, tx.ts, impl::stateless_ops(tx, s->sh->filter));
        m.resume_from_memory(t, *s, std::max(after, s->min_position));
    }
    m.flush_polls();
}

void hub::on_gap(int64_t from, int64_t to) {
    auto& m = *impl_;
    (void)from;
    // Everything up to `to` is accounted for: those positions no longer exist.
    m.position = std::max(m.position, to);
    m.gap_upto = std::max(m.gap_upto, to);
    stats_.position = m.position;
    for (auto& [name, t] : m.topics) {
        if (is_channel(name) && !m.attached.count(name)) continue;  // messages only: no state to repair
        // A load that answered below `to` misses the gap's changes: redo it. A load still in
        // flight is left alone here; if its snapshot predates the prune it lacks them too, which
        // only the load hand-off can tell (its answer's position < to).
        bool stale_load = t.st == impl::topic_state::status::loading && t.load && t.load->position < to;
        if (t.st != impl::topic_state::status::loaded && !stale_load) continue;
        if (t.subs.empty()) {  // nobody to resync: the next subscriber loads it afresh
            t.st = impl::topic_state::status::unloaded;
            t.load.reset();
            t.pending.clear();
            t.rows.clear();
            t.history.clear();
            continue;
        }
        m.reload(t);  // a resume point means nothing across the gap
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
    for (auto* s : t.subs)
        if (!s->poll_done) m.send_error(s->conn, "", error_code::undecodable_change, why);
    // A load in flight brings the rows, or finish_load reads again when its snapshot predates this.
    if (t.st != impl::topic_state::status::loaded) return;
    m.reload(t);
}

void hub::connect(conn_id id, std::shared_ptr<client> c, access who) {
    auto& m = *impl_;
    auto& conn = m.conns[id];
    conn.c = std::move(c);
    conn.who = std::move(who);
    if (!conn.who.user.empty()) m.by_user.emplace(conn.who.user, id);
    stats_.connections = m.conns.size();
}

void hub::set_access(conn_id id, access who) {
    auto& m = *impl_;
    auto it = m.conns.find(id);
    if (it == m.conns.end()) return;
    auto range = m.by_user.equal_range(it->second.who.user);
    for (auto u = range.first; u != range.second; ++u)
        if (u->second == id) {
            m.by_user.erase(u);
            break;
        }
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
        m.send_reply(id, subscribed_message(req.ref, name, req.topic, t.info.key, t.info.columns));
        m.begin(t, *s);
    } catch (const protocol_error& e) {
        m.send_error(id, e.ref.empty() ? req.ref : e.ref, e.code, e.what());
    }
    m.flush_polls();
}

void hub::unsubscribe(conn_id id, const unsubscribe_request& req) {
    auto& m = *impl_;
    auto it = m.conns.find(id);
    if (it == m.conns.end()) return;
    if (!it->second.subs.count(req.sub)) {
        m.send_error(id, req.ref, error_code::bad_request, "no subscription named '" + req.sub + "'");
        return;
    }
    m.remove_connection_sub(it->second, req.sub);
    m.send_reply(id, unsubscribed_message(req.ref, req.sub));
}

void hub::disconnect(conn_id id) {
    auto& m = *impl_;
    auto it = m.conns.find(id);
    if (it == m.conns.end()) return;
    for (auto& [name, s] : it->second.subs) m.detach_subscription(*s);
    auto range = m.by_user.equal_range(it->second.who.user);
    for (auto u = range.first; u != range.second; ++u)
        if (u->second == id) {
            m.by_user.erase(u);
            break;
        }
    m.conns.erase(it);
    stats_.connections = m.conns.size();
}

void hub::resync(conn_id id) {
    auto& m = *impl_;
    auto it = m.conns.find(id);
    if (it == m.conns.end()) return;
    ++stats_.resyncs;
    for (auto& [name, s] : it->second.subs) {
        if (!s->sh) continue;
        auto& t = m.topics.at(s->topic);
        s->since.reset();  // whatever it was waiting for, a snapshot is now the answer
        if (t.st == impl::topic_state::status::loaded) m.send_snapshot(t, *s);
        else s->ph = impl::subscription::phase::waiting_load;
    }
    it->second.c->resynced();
}

void hub::publish_user(const std::string& user, const json& data) {
    auto& m = *impl_;
    frame json_frame, sse_frame;
    auto range = m.by_user.equal_range(user);
    for (auto u = range.first; u != range.second; ++u) {
        auto c = m.conns.find(u->second);
        if (c == m.conns.end()) continue;
        bool sse = c->second.c->format() == wire_format::sse;
        auto& f = sse ? sse_frame : json_frame;
        if (!f) {
            std::string text = dump_exact(json{{"type", "message"}, {"user", user}, {"data", data}});
            if (sse) text = sse_record("message", -1, text);
            f = make_frame(std::move(text));
        }
        c->second.c->send(f, frame_kind::message);
        ++stats_.messages_sent;
    }
}

json hub::topics_json(const access& who) const {
    json out = json::array();
    for (auto& [name, info] : impl_->attached) {
        if (!who.may_read(name)) continue;
        size_t subs = 0;
        if (auto t = impl_->topics.find(name); t != impl_->topics.end())
            for (auto* s : t->second.subs)
                if (!s->poll_done) ++subs;
        out.push_back(json{{"name", name}, {"key", info.key}, {"columns", info.columns}, {"subscribers", subs}});
    }
    return out;
}

void hub::rows(const std::string& topic, const std::vector<std::string>& filter, std::optional<int64_t> limit,
               const std::string& order, const access& who, std::function<void(poll_answer)> done) {
    // A one-shot subscription answered by its snapshot, at once or after the load.
    auto& m = *impl_;
    subscribe_request sr;
    sr.topic = topic;
    sr.filter = filter;
    sr.limit = limit;
    sr.order = order;
    try {
        if (is_channel(topic) && !m.attached.count(topic))
            throw protocol_error(error_code::unknown_topic, "no attached table " + topic);
        auto s = m.make_subscription(0, who, sr);
        auto token = m.next_poll++;
        s->poll_done = [done = std::move(done)](poll_answer a) {
            if (a.status == 200) {  // {"pos","rows"} is the REST shape
                auto body = parse_exact(a.body);  // exact: rows keep every digit
                a.body = dump_exact(json{{"pos", body["pos"]}, {"rows", body.value("snapshot", json::object())}});
            }
            done(std::move(a));
        };
        m.polls[token] = s;
        m.begin(m.topics.at(topic), *s);
    } catch (const protocol_error& e) {
        int status = e.code == error_code::forbidden ? 403 : e.code == error_code::unknown_topic ? 404 : 400;
        done(error_answer(status, e.code, e.what()));
        return;
    }
    m.flush_polls();
}

uint64_t hub::poll(const poll_request& req, std::function<void(poll_answer)> done) {
    auto& m = *impl_;
    subscribe_request sr;
    sr.topic = req.topic;
    sr.filter = req.filter;
    sr.since = req.since;
    uint64_t token = 0;
    try {
        if (is_channel(req.topic) && !m.attached.count(req.topic))
            throw protocol_error(error_code::unknown_topic, "no attached table " + req.topic);
        auto s = m.make_subscription(0, req.who, sr);
        token = m.next_poll++;
        s->poll_done = std::move(done);
        s->poll_pos = req.since.value_or(0);
        m.polls[token] = s;
        m.begin(m.topics.at(req.topic), *s);
    } catch (const protocol_error& e) {
        int status = e.code == error_code::forbidden ? 403 : e.code == error_code::unknown_topic ? 404 : 400;
        done(error_answer(status, e.code, e.what()));
        return 0;
    }
    m.flush_polls();
    return token;
}

void hub::cancel_poll(uint64_t token) {
    auto& m = *impl_;
    auto it = m.polls.find(token);
    if (it == m.polls.end()) return;
    auto s = it->second;
    m.polls.erase(it);
    m.detach_subscription(*s);
    json body = {{"topic", s->topic}, {"pos", std::to_string(std::max(s->poll_pos, s->min_position))},
                 {"patches", json::array()}};
    s->poll_done(poll_answer{200, body.dump()});
}

void hub::tick() {
    auto& m = *impl_;
    int64_t now = m.now();
    for (auto& [name, t] : m.topics) {
        if (t.st != impl::topic_state::status::loaded || !t.subs.empty()) continue;
        if (now - t.idle_since < m.limits.unload_after_ms) continue;
        t.st = impl::topic_state::status::unloaded;
        t.rows.clear();
        t.history.clear();
        t.shapes.clear();
    }
    stats_.topics_held = m.topics.size();
    for (auto& [name, t] : m.topics)  // loads the database failed, due again
        if (t.st == impl::topic_state::status::unloaded && t.load_failures > 0 && now >= t.retry_load_at) {
            bool waiting = false;
            for (auto* s : t.subs) waiting = waiting || s->ph == impl::subscription::phase::waiting_load;
            if (waiting) m.request_load(t);
            else t.load_failures = 0;
        }
    m.serve_ahead(true);
    m.flush_polls();
}

}  // namespace pglive
