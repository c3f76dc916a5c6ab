// checker.cpp — the sweep over positions: oracle state, views, and every track's messages.
#include "model/checker.h"

#include <set>
#include <sstream>

namespace pglive::model {

void check_result::add(const failure& f) {
    // Different examples: differing in their first line once digits are ignored.
    auto sig = [](const failure& x) {
        std::string s;
        for (char c : x.text.substr(0, x.text.find('\n', 2))) if (!isdigit(static_cast<unsigned char>(c))) s += c;
        return x.category + s.substr(0, 120);
    };
    int same = 0;
    bool dup = false;
    for (auto& g : failures)
        if (g.category == f.category) {
            ++same;
            dup |= sig(g) == sig(f);
        }
    counts[f.category]++;
    if (same < 3 && !dup) failures.push_back(f);
    if (f.pos >= 0 && (first_pos < 0 || f.pos < first_pos)) first_pos = f.pos;
}

std::string check_result::report() const {
    std::ostringstream o;
    o << checks << " states compared with the oracle";
    o << " (" << lost_ranges << " lost ranges, " << lost_messages << " messages at lost positions)";
    if (ok()) {
        o << "; no divergence\n";
        return o.str();
    }
    o << "; FAILURES by category:";
    for (auto& [c, n] : counts) o << " " << c << "=" << n;
    o << "\nfirst diverging position: " << first_pos << "\n";
    for (auto& f : failures) o << "\n=== " << f.category << " (" << counts.at(f.category) << " in all) ===\n" << f.text << "\n";
    return o.str();
}

std::string describe_tx(const history& h, int64_t pos, const std::map<std::string, const tx_record*>& txs) {
    auto x = h.xid_of.find(pos);
    if (x == h.xid_of.end()) return "    position " + std::to_string(pos) + ": no transaction has it\n";
    std::string s = "    position " + std::to_string(pos) + " = xid " + x->second;
    auto t = txs.find(x->second);
    if (t == txs.end()) s += " (not a writer's: e.g. attach)\n";
    else s += " (writer " + std::to_string(t->second->writer) + "): " + t->second->sql.substr(0, 3000) + "\n";
    return s;
}

namespace {

struct track_cursor {
    track* t = nullptr;
    size_t next = 0;
    json state;
    bool has_state = false;
    bool broken = false;  // after a failure: unchecked until the next snapshot
    int64_t last = -1;
    int session = -1;
    bool tainted = false;  // got a lost position (a crash took it back): only a snapshot may follow
};

const session_info* session_of(const track& t, int id) {
    for (auto& s : t.sessions)
        if (s.id == id) return &s;
    return nullptr;
}

}  // namespace

void check_tracks(check_result& out, const history& h, const std::vector<spec>& specs,
                  std::vector<std::unique_ptr<track>>& tracks, const std::map<std::string, const tx_record*>& txs) {
    std::set<int64_t> positions(h.positions.begin(), h.positions.end());
    std::vector<track_cursor> cur;
    for (auto& t : tracks) {
        track_cursor c;
        c.t = t.get();
        for (auto& m : t->msgs) positions.insert(m.pos);
        cur.push_back(std::move(c));
    }
    replay rp(h);
    out.lost_ranges = h.lost.size();
    std::vector<view> views(specs.size()), before(specs.size());
    std::vector<bool> changed(specs.size(), false);
    bool first = true;

    auto context = [&](track_cursor& c, int64_t pos, const std::string& what, const view* v) {
        const spec& sp = specs[size_t(c.t->spec)];
        std::ostringstream o;
        o << "  subscription: " << sp.describe() << "\n  track " << c.t->id;
        if (auto s = session_of(*c.t, c.session))
            o << ", session " << s->id << " on node " << s->node << " (client " << s->client << ")"
              << (s->since ? ", resumed with since=" + std::to_string(*s->since) : std::string(", fresh subscribe"));
        o << "\n  at position " << pos << ": " << what << "\n";
        o << "  the transaction there:\n" << describe_tx(h, pos, txs);
        if (c.last >= 0 && c.last != pos) o << "  the client's previous message was at " << c.last << "\n";
        if (v) {
            std::string diff;
            allowed(sp, *v, c.state, &diff);
            o << "  expected rows:\n" << show_view(sp, *v) << "  actual rows: " << show(c.state).substr(0, 1500)
              << "\n  differences:\n" << diff;
        }
        return o.str();
    };

    for (int64_t p : positions) {
        unsigned touched = rp.apply(p);
        for (size_t s = 0; s < specs.size(); ++s) {
            changed[s] = false;
            if (first || (touched & (1u << specs[s].table))) {
                before[s] = views[s];
                view v = evaluate(specs[s], rp.state(specs[s].table));
                changed[s] = first || !v.same_as(views[s], specs[s].table);
                views[s] = std::move(v);
            }
        }
        first = false;
        for (auto& c : cur) {
            auto& msgs = c.t->msgs;
            const spec& sp = specs[size_t(c.t->spec)];
            const view& v = views[size_t(c.t->spec)];
            bool got = false;
            while (c.next < msgs.size() && msgs[c.next].pos <= p) {
                const message& m = msgs[c.next++];
                bool new_session = m.session != c.session;
                c.session = m.session;
                const session_info* si = session_of(*c.t, m.session);
                if (m.pos < p) {  // only when positions went backwards within the track
                    out.add({"positions_backwards", m.pos, sp.id,
                             context(c, m.pos, std::string(m.kind == 'S' ? "snapshot" : "patch") + " after one at " +
                                                   std::to_string(c.last), nullptr)});
                    c.broken = true;
                    c.last = std::max(c.last, m.pos);
                    continue;
                }
                if (m.kind == 'P' && m.pos <= c.last) {
                    out.add({"repeated_position", m.pos, sp.id, context(c, m.pos, "a second patch for this position", nullptr)});
                    c.broken = true;
                    continue;
                }
                if (m.kind == 'P' && new_session && si && si->since && m.pos <= *si->since) {
                    out.add({"resume_before_since", m.pos, sp.id, context(c, m.pos, "a resumed session's patch at or below since", nullptr)});
                    c.broken = true;
                    continue;
                }
                // Resumed from a lost position: only a snapshot may bring it back (patches at
                // other lost positions may come first, from a node that has not seen the crash yet).
                if (new_session && si && si->since && h.is_lost(*si->since)) c.tainted = true;
                // A snapshot at a lost position that shows the state there (the state at the
                // range's durable_before: no transaction has a position inside it) is a fresh
                // snapshot after the crash, labelled at the position the node had reached.
                bool fresh = m.kind == 'S' && allowed(sp, v, m.body, nullptr);
                if (h.is_lost(m.pos) && !fresh) {
                    // Delivered before the crash that took the position back: what it shows may be
                    // gone or come again at a new position. Nothing to check; a snapshot must follow.
                    c.tainted = true;
                    c.last = m.pos;
                    got = true;
                    ++out.lost_messages;
                    continue;
                }
                if (m.kind == 'P' && c.tainted) {
                    out.add({"patch_after_lost_position", m.pos, sp.id,
                             context(c, m.pos, "a patch after a lost position, with no fresh snapshot between", nullptr)});
                    c.broken = true;
                    c.tainted = false;
                    continue;
                }
                if (m.kind == 'P' && m.from >= 0 && m.from != c.last) {
                    out.add({"misplaced_catch_up", m.pos, sp.id,
                             context(c, m.pos, "a catch-up patch from " + std::to_string(m.from) +
                                                   ", not from where the client stood", nullptr)});
                    c.broken = true;
                    continue;
                }
                if (m.kind == 'S') {
                    c.tainted = false;
                    c.state = m.body;
                    c.has_state = true;
                    c.broken = false;
                } else {
                    if (!m.body.is_array() || m.body.empty())
                        out.add({"empty_patch", p, sp.id, context(c, p, "a patch with no operations: " + show(m.body), nullptr)});
                    // A catch-up lands at the last position it merges, which need not change this view.
                    if (!sp.limit && m.from < 0 && !changed[size_t(c.t->spec)] && c.has_state && !c.broken)
                        out.add({"noop_patch", p, sp.id,
                                 context(c, p, "a patch for a transaction that changed nothing the subscription shows: " +
                                                   show(m.body).substr(0, 600), nullptr)});
                    if (c.has_state && !c.broken) {
                        try {
                            c.state.patch_inplace(m.body);
                        } catch (const std::exception& e) {
                            out.add({"patch_does_not_apply", p, sp.id,
                                     context(c, p, std::string("the patch fails: ") + e.what() + "; patch: " +
                                                       show(m.body).substr(0, 600), nullptr)});
                            c.broken = true;
                        }
                    }
                }
                c.last = m.pos;
                got = true;
                if (c.has_state && !c.broken) {
                    ++out.checks;
                    if (!allowed(sp, v, c.state, nullptr)) {
                        out.add({m.kind == 'S' ? (new_session && si && si->since ? "wrong_resume_snapshot" : "wrong_snapshot")
                                               : "wrong_after_patch",
                                 p, sp.id,
                                 context(c, p, std::string("the state after this ") +
                                                   (m.kind == 'S' ? "snapshot" : "patch: " + show(m.body).substr(0, 800)),
                                         &v)});
                        c.broken = true;
                    }
                }
            }
            // No message at p: the state must still be right, unless the next thing the client
            // gets is a snapshot (a resync or a fresh start), a catch-up patch covering p (a
            // resync), or nothing at all (it left).
            if (got || !c.has_state || c.broken || c.tainted || !changed[size_t(c.t->spec)]) continue;
            bool patches_follow = c.next < msgs.size() ? msgs[c.next].kind == 'P' && msgs[c.next].from < 0 : c.t->live;
            if (!patches_follow) continue;
            ++out.checks;
            if (!allowed(sp, v, c.state, nullptr)) {
                std::string next = c.next < msgs.size() ? "its next patch is at " + std::to_string(msgs[c.next].pos)
                                                         : "and it got nothing more before the run ended";
                out.add({c.next < msgs.size() ? "skipped_transaction" : "never_caught_up", p, sp.id,
                         context(c, p, "no patch for this transaction, which changed what the subscription shows; " + next, &v)});
                c.broken = true;
            }
        }
    }
}

}  // namespace pglive::model
