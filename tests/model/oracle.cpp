// oracle.cpp — the audit schema, loading and replaying the audit, and subscription views.
#include "model/oracle.h"

#include "model/aggregates.h"

#include <algorithm>
#include <set>
#include <sstream>

namespace pglive::model {

std::string audit_schema_sql() {
    return R"SQL(
create schema model_audit;
create sequence model_audit.stmt_seq;
create table model_audit.log (
    aseq   bigserial primary key,
    xid    xid8 not null default pg_current_xact_id(),
    stmt   bigint not null,
    tbl    text not null,
    op     "char" not null,
    tag    text default current_setting('model_audit.tx', true),  -- the writer's name for its transaction
    old_mt public.mt, new_mt public.mt,
    old_st public.st, new_st public.st
);
create index on model_audit.log (xid);
create index on model_audit.log (tag);
create table model_audit.pos (position bigint primary key, xid xid8 not null);

create function model_audit.stmt() returns trigger language plpgsql as $$
begin
    perform set_config('model_audit.stmt', nextval('model_audit.stmt_seq')::text, true);
    return null;
end $$;
create function model_audit.row_mt() returns trigger language plpgsql as $$
begin
    insert into model_audit.log (stmt, tbl, op, old_mt, new_mt)
    values (current_setting('model_audit.stmt')::bigint, 'mt', left(TG_OP, 1), OLD, NEW);
    return null;
end $$;
create function model_audit.row_st() returns trigger language plpgsql as $$
begin
    insert into model_audit.log (stmt, tbl, op, old_st, new_st)
    values (current_setting('model_audit.stmt')::bigint, 'st', left(TG_OP, 1), OLD, NEW);
    return null;
end $$;
create function model_audit.trunc() returns trigger language plpgsql as $$
begin
    insert into model_audit.log (stmt, tbl, op) values (nextval('model_audit.stmt_seq'), TG_ARGV[0], 'T');
    return null;
end $$;
create function model_audit.copy_pos() returns trigger language plpgsql as $$
begin
    insert into model_audit.pos values (NEW.position, NEW.xid) on conflict do nothing;
    return null;
end $$;

create trigger model_audit_stmt before insert or update or delete on public.mt
    for each statement execute function model_audit.stmt();
create trigger model_audit_row after insert or update or delete on public.mt
    for each row execute function model_audit.row_mt();
create trigger model_audit_trunc after truncate on public.mt
    for each statement execute function model_audit.trunc('mt');
create trigger model_audit_stmt before insert or update or delete on public.st
    for each statement execute function model_audit.stmt();
create trigger model_audit_row after insert or update or delete on public.st
    for each row execute function model_audit.row_st();
create trigger model_audit_trunc after truncate on public.st
    for each statement execute function model_audit.trunc('st');
create trigger model_audit_pos after insert on pglive.tx
    for each row execute function model_audit.copy_pos();
insert into model_audit.pos select position, xid from pglive.tx on conflict do nothing;
)SQL";
}

// ---- spec ----

json spec::filter_json() const {
    json f = json::array();
    const auto& t = tables()[size_t(table)];
    for (auto& c : conds) {
        if (c.policy) continue;  // the server ANDs it in from the token's claim
        std::string e = t.cols[size_t(c.col)].name + "=" + c.op + ".";
        if (c.op == "in") {
            e += "(";
            for (size_t i = 0; i < c.literals.size(); ++i) {
                std::string q = "\"";
                for (char ch : c.literals[i]) {
                    if (ch == '"' || ch == '\\') q += '\\';
                    q += ch;
                }
                e += (i ? "," : "") + q + "\"";
            }
            e += ")";
        } else {
            e += c.literals[0];
        }
        f.push_back(e);
    }
    return f;
}

std::string spec::order_text() const {
    const auto& t = tables()[size_t(table)];
    std::string s;
    for (auto& o : order) {
        if (!s.empty()) s += ",";
        s += t.cols[size_t(o.col)].name + (o.desc ? ".desc" : ".asc");
        if (o.nulls_first != o.desc) s += o.nulls_first ? ".nullsfirst" : ".nullslast";
    }
    return s;
}

std::string spec::describe() const {
    std::string s = "s" + std::to_string(id) + " " + tables()[size_t(table)].topic + " filter=" + filter_json().dump();
    if (!tenant.empty()) s += " tenant=" + json(tenant).dump();
    if (admin) s += " admin";
    if (limit) s += " limit=" + std::to_string(limit) + " order=" + order_text();
    if (agg) s += " group=" + group_json().dump() + " aggregate=" + aggregate_json().dump();
    return s;
}

std::string spec::sql() const {
    const auto& t = tables()[size_t(table)];
    // Named so that ORDER BY id sorts the column, not this text (an output name wins in ORDER BY).
    std::string key = table == MT ? "id::text" : "'[' || to_json(k)::text || ',' || n::text || ']'";
    std::string s = "select " + key + " as model_key from public." + t.name;
    std::string where;
    for (auto& c : conds) {
        const auto& col = t.cols[size_t(c.col)];
        std::string lhs = col.name;
        std::string e;
        auto lit = [&](size_t i) { return sql_quote(c.literals[i]) + "::" + sql_type(col.type); };
        if (c.op == "is") e = lhs + " is null";
        else if (c.op == "in") {
            e = lhs + " in (";
            for (size_t i = 0; i < c.literals.size(); ++i) e += (i ? ", " : "") + lit(i);
            e += ")";
        } else {
            static const std::map<std::string, std::string> ops = {{"eq", "="}, {"neq", "<>"}, {"lt", "<"},
                                                                   {"lte", "<="}, {"gt", ">"}, {"gte", ">="}};
            e = lhs + " " + ops.at(c.op) + " " + lit(0);
        }
        where += (where.empty() ? " where " : " and ") + e;
    }
    if (agg) return groups_sql(*this, where);
    s += where;
    if (limit) {
        std::string o;
        for (auto& term : order)
            o += (o.empty() ? " order by " : ", ") + t.cols[size_t(term.col)].name + (term.desc ? " desc" : " asc") +
                 (term.nulls_first ? " nulls first" : " nulls last");
        s += o + " limit " + std::to_string(limit);
    }
    return s;
}

// ---- views ----

namespace {

bool holds(const table_def& t, const condition& c, const row& r) {
    const value& v = r[size_t(c.col)];
    if (c.op == "is") return !v;
    if (!v) return false;
    col_type ty = t.cols[size_t(c.col)].type;
    if (c.op == "in") {
        for (auto& lit : c.canon)
            if (compare_values(ty, *v, lit) == 0) return true;
        return false;
    }
    int r2 = compare_values(ty, *v, c.canon[0]);
    if (c.op == "eq") return r2 == 0;
    if (c.op == "neq") return r2 != 0;
    if (c.op == "lt") return r2 < 0;
    if (c.op == "lte") return r2 <= 0;
    if (c.op == "gt") return r2 > 0;
    if (c.op == "gte") return r2 >= 0;
    throw std::invalid_argument("op " + c.op);
}

int order_cmp(const table_def& t, const std::vector<order_term>& order, const row& a, const row& b) {
    for (auto& o : order) {
        const value& x = a[size_t(o.col)];
        const value& y = b[size_t(o.col)];
        if (!x || !y) {
            if (!x && !y) continue;
            bool x_first = !x ? o.nulls_first : !o.nulls_first;
            return x_first ? -1 : 1;
        }
        int c = compare_values(t.cols[size_t(o.col)].type, *x, *y);
        if (c) return o.desc ? -c : c;
    }
    return 0;
}

bool same_exposed(const table_def& t, const row& a, const row& b) {
    for (size_t i = 0; i < t.cols.size(); ++i)
        if (!t.cols[i].hidden && a[i] != b[i]) return false;
    return true;
}

bool same_rows(const table_def& t, const std::map<std::string, row_ptr>& a, const std::map<std::string, row_ptr>& b) {
    if (a.size() != b.size()) return false;
    for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib)
        if (ia->first != ib->first || (ia->second != ib->second && !same_exposed(t, *ia->second, *ib->second)))
            return false;
    return true;
}

std::string show_row(const table_def& t, const row& r) {
    std::string s = "{";
    bool first = true;
    for (size_t i = 0; i < t.cols.size(); ++i) {
        if (t.cols[i].hidden) continue;
        s += (first ? "" : ",") + t.cols[i].name + ":" + (r[i] ? json(*r[i]).dump() : "NULL");
        first = false;
    }
    return s + "}";
}

}  // namespace

bool view::same_as(const view& o, int table) const {
    if (!groups.is_null() || !o.groups.is_null()) return groups == o.groups;
    const auto& t = tables()[size_t(table)];
    return tie_need == o.tie_need && same_rows(t, must, o.must) && same_rows(t, tie, o.tie);
}

bool matches(const spec& s, const row& r) {
    const auto& t = tables()[size_t(s.table)];
    for (auto& c : s.conds)
        if (!holds(t, c, r)) return false;
    return true;
}

view evaluate(const spec& s, const table_state& state) {
    const auto& t = tables()[size_t(s.table)];
    view v;
    if (s.agg) {
        v.groups = expected_groups(s, state);
        for (auto& [k, e] : v.groups.items()) v.must.emplace(k, nullptr);
        return v;
    }
    std::vector<std::pair<const std::string*, const row_ptr*>> matched;
    for (auto& [k, r] : state) {
        bool ok = true;
        for (auto& c : s.conds)
            if (!holds(t, c, *r)) {
                ok = false;
                break;
            }
        if (ok) matched.emplace_back(&k, &r);
    }
    if (!s.limit || matched.size() <= size_t(s.limit)) {
        for (auto& [k, r] : matched) v.must.emplace(*k, *r);
        return v;
    }
    std::stable_sort(matched.begin(), matched.end(),
                     [&](auto& a, auto& b) { return order_cmp(t, s.order, **a.second, **b.second) < 0; });
    const row& boundary = **matched[size_t(s.limit) - 1].second;
    for (auto& [k, r] : matched) {
        int c = order_cmp(t, s.order, **r, boundary);
        if (c < 0) v.must.emplace(*k, *r);
        else if (c == 0) v.tie.emplace(*k, *r);
    }
    v.tie_need = size_t(s.limit) - v.must.size();
    return v;
}

bool allowed(const spec& s, const view& v, const json& state, std::string* diff) {
    if (s.agg) return groups_allowed(s, v.groups, state, diff);
    const auto& t = tables()[size_t(s.table)];
    std::ostringstream out;
    int problems = 0;
    auto note = [&](const std::string& line) {
        if (++problems <= 10) out << "    " << line << "\n";
    };
    if (!state.is_object()) {
        if (diff) *diff = "    the state is not a JSON object: " + show(state).substr(0, 200) + "\n";
        return false;
    }
    size_t ties = 0;
    auto exposed = t.exposed();
    for (auto it = state.begin(); it != state.end(); ++it) {
        const row_ptr* expected = nullptr;
        if (auto m = v.must.find(it.key()); m != v.must.end()) expected = &m->second;
        else if (auto ti = v.tie.find(it.key()); ti != v.tie.end()) {
            expected = &ti->second;
            ++ties;
        }
        if (!expected) {
            note("extra row " + it.key() + ": " + show(it.value()).substr(0, 300));
            continue;
        }
        const json& got = it.value();
        if (!got.is_object()) {
            note("row " + it.key() + " is not an object: " + show(got).substr(0, 200));
            continue;
        }
        for (int c : exposed) {
            const auto& col = t.cols[size_t(c)];
            auto gi = got.find(col.name);
            std::string why;
            if (gi == got.end()) note("row " + it.key() + ": column " + col.name + " missing");
            else if (!wire_equals(col.type, (**expected)[size_t(c)], *gi, &why))
                note("row " + it.key() + " column " + col.name + ": got " + show(*gi).substr(0, 200) + ", expected " +
                     ((**expected)[size_t(c)] ? json(*(**expected)[size_t(c)]).dump().substr(0, 200) : "NULL") + " (" +
                     why + ")");
        }
        for (auto gi = got.begin(); gi != got.end(); ++gi) {
            bool known = false;
            for (int c : exposed) known |= t.cols[size_t(c)].name == gi.key();
            if (!known) note("row " + it.key() + ": unexpected column " + gi.key());
        }
    }
    for (auto& [k, r] : v.must)
        if (!state.contains(k)) note("missing row " + k + ": " + show_row(t, *r).substr(0, 300));
    if (ties != v.tie_need)
        note("holds " + std::to_string(ties) + " of the " + std::to_string(v.tie.size()) +
             " rows tied at the window's edge, needs " + std::to_string(v.tie_need));
    if (problems > 10) out << "    ... " << (problems - 10) << " more\n";
    if (diff) *diff = out.str();
    return problems == 0;
}

std::string show_view(const spec& s, const view& v, size_t max_rows) {
    if (s.agg) return "      " + v.groups.dump().substr(0, 200 * max_rows) + "\n";
    const auto& t = tables()[size_t(s.table)];
    std::string out;
    size_t n = 0;
    for (auto& [k, r] : v.must) {
        if (n++ >= max_rows) {
            out += "      ... (" + std::to_string(v.must.size()) + " rows)\n";
            break;
        }
        out += "      " + k + " " + show_row(t, *r) + "\n";
    }
    if (!v.tie.empty()) {
        out += "      and " + std::to_string(v.tie_need) + " of the tied rows:\n";
        for (auto& [k, r] : v.tie) out += "      ~ " + k + " " + show_row(t, *r) + "\n";
    }
    if (out.empty()) out = "      (no rows)\n";
    return out;
}

// ---- history and replay ----

namespace {

std::string column_list(const std::string& composite, int table) {
    std::string s;
    for (auto& c : tables()[size_t(table)].cols) s += ", " + canonical_sql("(" + composite + ")." + c.name, c.type);
    return s;
}

std::shared_ptr<const row> read_row(const pqxx::row& r, size_t first, int table) {
    auto out = std::make_shared<row>();
    for (size_t i = 0; i < tables()[size_t(table)].cols.size(); ++i) {
        const auto& f = r[int(first + i)];
        out->push_back(f.is_null() ? value() : value(f.c_str()));
    }
    return out;
}

}  // namespace

history load_history(pqxx::connection_base& conn) {
    history h;
    pqxx::work w(conn);
    for (auto r : w.exec("select position, xid::text from model_audit.pos order by position")) {
        int64_t p = r[0].as<int64_t>();
        h.positions.push_back(p);
        h.xid_of[p] = r[1].c_str();
    }
    for (auto r : w.exec("select durable_before, base from pglive.epochs order by epoch"))
        h.lost.emplace_back(r[0].as<int64_t>(), r[1].as<int64_t>());
    std::set<std::string> unpositioned;
    for (int table : {MT, ST}) {
        const auto& t = tables()[size_t(table)];
        std::string q = "select p.position, a.stmt, a.aseq, a.op, a.xid::text" + column_list("a.old_" + t.name, table) +
                        column_list("a.new_" + t.name, table) +
                        " from model_audit.log a left join model_audit.pos p on p.xid = a.xid where a.tbl = '" +
                        t.name + "'";
        size_t n = t.cols.size();
        for (auto r : w.exec(q)) {
            if (r[0].is_null()) {
                unpositioned.insert(r[4].c_str());
                continue;
            }
            event e;
            e.pos = r[0].as<int64_t>();
            e.stmt = r[1].as<int64_t>();
            e.aseq = r[2].as<int64_t>();
            e.op = r[3].c_str()[0];
            e.table = table;
            if (e.op == 'U' || e.op == 'D') e.oldr = read_row(r, 5, table);
            if (e.op == 'U' || e.op == 'I') e.newr = read_row(r, 5 + n, table);
            h.events.push_back(std::move(e));
        }
    }
    w.commit();
    std::sort(h.events.begin(), h.events.end(), [](const event& a, const event& b) {
        return std::tie(a.pos, a.stmt, a.aseq) < std::tie(b.pos, b.stmt, b.aseq);
    });
    for (size_t i = 0; i < h.events.size(); ++i) h.events_at[h.events[i].pos].push_back(i);
    h.unpositioned.assign(unpositioned.begin(), unpositioned.end());
    return h;
}

int64_t unpositioned_count(pqxx::connection_base& conn) {
    pqxx::work w(conn);
    auto r = w.exec("select count(distinct a.xid) from model_audit.log a "
                    "where not exists (select 1 from model_audit.pos p where p.xid = a.xid)");
    return r[0][0].as<int64_t>();
}

unsigned replay::apply(int64_t pos) {
    auto it = h_.events_at.find(pos);
    if (it == h_.events_at.end()) return 0;
    unsigned touched = 0;
    const auto& idx = it->second;
    // Statement by statement: a statement's removals (deletes, and the old keys of updates)
    // before its new rows, so `update … set id = id + 1` over keys 1, 2 leaves 2 and 3.
    for (size_t i = 0; i < idx.size();) {
        size_t j = i;
        while (j < idx.size() && h_.events[idx[j]].stmt == h_.events[idx[i]].stmt &&
               h_.events[idx[j]].table == h_.events[idx[i]].table)
            ++j;
        for (size_t k = i; k < j; ++k) {
            const event& e = h_.events[idx[k]];
            const auto& t = tables()[size_t(e.table)];
            auto& st = state_[size_t(e.table)];
            touched |= 1u << e.table;
            if (e.op == 'T') st.clear();
            else if (e.oldr) st.erase(row_key(t, *e.oldr));
        }
        for (size_t k = i; k < j; ++k) {
            const event& e = h_.events[idx[k]];
            if (e.newr) state_[size_t(e.table)][row_key(tables()[size_t(e.table)], *e.newr)] = e.newr;
        }
        i = j;
    }
    return touched;
}

table_state read_table(pqxx::connection_base& conn, int table) {
    const auto& t = tables()[size_t(table)];
    std::string cols;
    for (auto& c : t.cols) cols += (cols.empty() ? "" : ", ") + canonical_sql(c.name, c.type);
    pqxx::work w(conn);
    table_state out;
    for (auto r : w.exec("select " + cols + " from public." + t.name)) {
        auto rp = read_row(r, 0, table);
        out[row_key(t, *rp)] = rp;
    }
    w.commit();
    return out;
}

std::string diff_states(int table, const table_state& expected, const table_state& actual, size_t max) {
    const auto& t = tables()[size_t(table)];
    std::string out;
    size_t n = 0;
    for (auto& [k, r] : expected) {
        auto a = actual.find(k);
        if (a == actual.end()) {
            if (n++ < max) out += "    only in the replay: " + k + " " + show_row(t, *r) + "\n";
        } else if (*a->second != *r) {
            if (n++ < max) out += "    differs " + k + ": replay " + show_row(t, *r) + " table " + show_row(t, *a->second) + "\n";
        }
    }
    for (auto& [k, r] : actual)
        if (!expected.count(k) && n++ < max) out += "    only in the table: " + k + " " + show_row(t, *r) + "\n";
    return out;
}

}  // namespace pglive::model
