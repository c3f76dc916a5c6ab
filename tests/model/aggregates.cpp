// aggregates.cpp — random aggregate specs, and the oracle's GROUP BY of its replayed rows in the protocol's state shape (PROTOCOL §5).
#include "model/aggregates.h"

#include <map>
#include <sstream>

namespace pglive::model {

namespace {

std::string i128_text(__int128 v) {
    bool neg = v < 0;
    unsigned __int128 m = neg ? -(unsigned __int128)v : (unsigned __int128)v;
    std::string d;
    do {
        d.insert(d.begin(), char('0' + int(m % 10)));
        m /= 10;
    } while (m);
    return neg ? "-" + d : d;
}

__int128 i128_of(const std::string& s) {
    bool neg = !s.empty() && s[0] == '-';
    __int128 v = 0;
    for (size_t i = neg ? 1 : 0; i < s.size(); ++i) v = v * 10 + (s[i] - '0');
    return neg ? -v : v;
}

// A group column's value as it is on the wire, for a composite group key's JSON array.
json wire_json(col_type t, const value& v) {
    if (!v) return nullptr;
    if (t == col_type::int4 || t == col_type::int8) return std::stoll(*v);
    if (t == col_type::boolean) return *v == "true";
    return *v;
}

std::string key_of(const spec& s, const row& r) {
    const auto& t = tables()[size_t(s.table)];
    if (s.group.empty()) return "*";
    if (s.group.size() == 1) {
        const value& v = r[size_t(s.group[0])];
        if (!v) return "null";
        bool quote = tables()[size_t(s.table)].cols[size_t(s.group[0])].type == col_type::text &&
                     (*v == "null" || (!v->empty() && (*v)[0] == '"'));
        return quote ? json(*v).dump() : *v;
    }
    json parts = json::array();
    for (int c : s.group) parts.push_back(wire_json(t.cols[size_t(c)].type, r[size_t(c)]));
    return parts.dump();
}

std::string field_name(const spec& s, const agg_term& a) {
    if (a.col < 0) return a.fn;
    return a.fn + ":" + tables()[size_t(s.table)].cols[size_t(a.col)].name;
}

}  // namespace

void random_aggregate(spec& s, value_gen& g) {
    const auto& t = tables()[size_t(s.table)];
    s.agg = true;
    std::vector<std::vector<std::string>> groups = s.table == MT
        ? std::vector<std::vector<std::string>>{{"grp"}, {"b"}, {"grp", "b"}, {}, {"txt"}}
        : std::vector<std::vector<std::string>>{{"q"}, {"k"}, {"q", "v"}, {}};
    for (auto& name : groups[size_t(g.pick(int(groups.size())))]) s.group.push_back(t.index(name));
    std::vector<std::string> summable = s.table == MT ? std::vector<std::string>{"i4", "i8", "grp", "id"}
                                                      : std::vector<std::string>{"n", "q"};
    std::vector<std::string> ordered = s.table == MT ? std::vector<std::string>{"i4", "i8", "txt", "ts", "id", "grp"}
                                                     : std::vector<std::string>{"n", "v", "k", "q"};
    std::vector<std::string> countable = s.table == MT
        ? std::vector<std::string>{"i4", "i8", "num", "f8", "txt", "b", "ts"}
        : std::vector<std::string>{"n", "v"};
    auto pick = [&](const std::vector<std::string>& v) { return t.index(v[size_t(g.pick(int(v.size())))]); };
    std::vector<agg_term> all = {{"count", -1}, {"count", pick(countable)}, {"sum", pick(summable)},
                                 {"sum", pick(summable)}, {"min", pick(ordered)}, {"max", pick(ordered)}};
    std::map<std::string, bool> seen;
    for (auto& a : all)
        if ((a.fn == "count" && a.col < 0) || g.chance(0.6))
            if (!seen[field_name(s, a)]) {
                seen[field_name(s, a)] = true;
                s.aggs.push_back(a);
            }
}

json spec::group_json() const {
    json out = json::array();
    for (int c : group) out.push_back(tables()[size_t(table)].cols[size_t(c)].name);
    return out;
}

json spec::aggregate_json() const {
    json out = json::array();
    for (auto& a : aggs) out.push_back(field_name(*this, a));
    return out;
}

json expected_groups(const spec& s, const table_state& state) {
    const auto& t = tables()[size_t(s.table)];
    struct acc {
        const row* first = nullptr;
        int64_t rows = 0;
        std::vector<int64_t> n;
        std::vector<__int128> sum;
        std::vector<value> extreme;
    };
    std::map<std::string, acc> groups;
    if (s.group.empty()) groups["*"];
    for (auto& [k, r] : state) {
        if (!matches(s, *r)) continue;
        acc& a = groups[key_of(s, *r)];
        if (!a.first) a.first = r.get();
        a.n.resize(s.aggs.size(), 0);
        a.sum.resize(s.aggs.size(), 0);
        a.extreme.resize(s.aggs.size());
        ++a.rows;
        for (size_t i = 0; i < s.aggs.size(); ++i) {
            const agg_term& ag = s.aggs[i];
            if (ag.col < 0) continue;
            const value& v = (*r)[size_t(ag.col)];
            if (!v) continue;
            ++a.n[i];
            col_type ty = t.cols[size_t(ag.col)].type;
            if (ag.fn == "sum") a.sum[i] += i128_of(*v);
            if (ag.fn == "min" && (!a.extreme[i] || compare_values(ty, *v, *a.extreme[i]) < 0)) a.extreme[i] = v;
            if (ag.fn == "max" && (!a.extreme[i] || compare_values(ty, *v, *a.extreme[i]) > 0)) a.extreme[i] = v;
        }
    }
    json out = json::object();
    for (auto& [key, a] : groups) {
        json e = json::object();
        for (int c : s.group) {
            const auto& col = t.cols[size_t(c)];
            e[col.name] = json::array({int(col.type), a.first && (*a.first)[size_t(c)] ? json(*(*a.first)[size_t(c)]) : json()});
        }
        for (size_t i = 0; i < s.aggs.size(); ++i) {
            const agg_term& ag = s.aggs[i];
            int64_t n = a.n.empty() ? 0 : a.n[i];
            json v;
            col_type ty = col_type::int8;
            if (ag.col < 0) v = std::to_string(a.rows);
            else if (ag.fn == "count") v = std::to_string(n);
            else if (ag.fn == "sum") {
                ty = col_type::numeric;
                if (n) v = i128_text(a.sum[i]);
            } else {
                ty = t.cols[size_t(ag.col)].type;
                if (n) v = *a.extreme[i];
            }
            e[field_name(s, ag)] = json::array({int(ty), v});
        }
        out[key] = e;
    }
    return out;
}

bool groups_allowed(const spec& s, const json& expected, const json& state, std::string* diff) {
    (void)s;
    std::ostringstream out;
    int problems = 0;
    auto note = [&](const std::string& line) {
        if (++problems <= 10) out << "    " << line << "\n";
    };
    if (!state.is_object()) {
        if (diff) *diff = "    the state is not a JSON object\n";
        return false;
    }
    for (auto& [k, e] : expected.items())
        if (!state.contains(k)) note("missing group " + k + ": " + e.dump().substr(0, 300));
    for (auto it = state.begin(); it != state.end(); ++it) {
        if (!expected.contains(it.key())) {
            note("extra group " + it.key() + ": " + show(it.value()).substr(0, 300));
            continue;
        }
        const json& want = expected[it.key()];
        const json& got = it.value();
        if (!got.is_object() || got.size() != want.size()) {
            note("group " + it.key() + ": fields " + show(got).substr(0, 300) + ", expected " + want.dump().substr(0, 300));
            continue;
        }
        for (auto& [field, tv] : want.items()) {
            auto gi = got.find(field);
            value v;
            if (!tv[1].is_null()) v = tv[1].get<std::string>();
            std::string why;
            if (gi == got.end()) note("group " + it.key() + ": field " + field + " missing");
            else if (!wire_equals(col_type(tv[0].get<int>()), v, *gi, &why))
                note("group " + it.key() + " " + field + ": got " + show(*gi).substr(0, 200) + ", expected " +
                     tv[1].dump().substr(0, 200) + " (" + why + ")");
        }
    }
    if (problems > 10) out << "    ... " << (problems - 10) << " more\n";
    if (diff) *diff = out.str();
    return problems == 0;
}

std::string groups_sql(const spec& s, const std::string& where) {
    const auto& t = tables()[size_t(s.table)];
    if (s.group.empty()) return "select '*'";
    auto text = [&](int c) { return "coalesce(" + t.cols[size_t(c)].name + "::text, 'null')"; };
    std::string key;
    if (s.group.size() == 1) {
        const auto& col = t.cols[size_t(s.group[0])];
        key = col.type == col_type::text ? "case when " + col.name + " = 'null' or " + col.name +
                                               " like '\"%' then to_json(" + col.name + ")::text else " + text(s.group[0]) + " end"
                                         : text(s.group[0]);
    } else {
        std::string parts;
        for (int c : s.group) {
            const auto& col = t.cols[size_t(c)];
            std::string e = col.type == col_type::text ? "coalesce(to_json(" + col.name + ")::text, 'null')" : text(c);
            parts += (parts.empty() ? "" : " || ',' || ") + e;
        }
        key = "'[' || " + parts + " || ']'";
    }
    return "select distinct " + key + " from public." + t.name + where;
}

}  // namespace pglive::model
