// filter.cpp — PostgREST filters and orders: parsed once against the topic's columns, evaluated
// on JSON rows (the comparisons are typed_value's).
#include "core/filter.h"

#include <algorithm>
#include <optional>
#include <string_view>

#include "core/exact_json.h"

namespace pglive {

namespace {

struct op_name {
    const char* name;
    filter_op op;
};
const op_name op_names[] = {{"eq", filter_op::eq},   {"neq", filter_op::neq}, {"lt", filter_op::lt},
                            {"lte", filter_op::lte}, {"gt", filter_op::gt},   {"gte", filter_op::gte},
                            {"in", filter_op::in},   {"is", filter_op::is}};

const char* name_of(filter_op op) {
    for (auto& o : op_names)
        if (o.op == op) return o.name;
    return "?";
}

// `(a,b,"c,d")` → {a, b, c,d}
std::vector<std::string> parse_list(const std::string& expr, const std::string& text) {
    if (text.size() < 2 || text.front() != '(' || text.back() != ')')
        throw filter_error("filter '" + expr + "': in needs a list like in.(open,late)");
    std::vector<std::string> out;
    std::string cur;
    bool quoted = false, was_quoted = false;
    for (size_t i = 1; i + 1 < text.size(); ++i) {
        char c = text[i];
        if (quoted) {
            if (c == '\\' && i + 2 < text.size()) cur += text[++i];
            else if (c == '"') quoted = false;
            else cur += c;
        } else if (c == '"') {
            quoted = was_quoted = true;
        } else if (c == ',') {
            out.push_back(cur);
            cur.clear();
            was_quoted = false;
        } else {
            cur += c;
        }
    }
    if (quoted) throw filter_error("filter '" + expr + "': unterminated quote in the in list");
    if (!cur.empty() || was_quoted || !out.empty()) out.push_back(cur);
    if (out.empty()) throw filter_error("filter '" + expr + "': in needs at least one value");
    return out;
}

// -1, 0, 1 comparing a row value with a filter value; nullopt when they cannot be compared.
std::optional<int> compare(const condition& c, const json& v, size_t n) {
    typed_value rv;
    if (c.kind == value_kind::unknown) {
        value_kind k = inferred(v);
        typed_value fv;
        if (!read_row(k, v, rv) || !read_text(k, c.values[n], fv)) return std::nullopt;
        if (k == value_kind::boolean && c.values[n] != "true" && c.values[n] != "false") return std::nullopt;
        return compare_typed(k, rv, fv);
    }
    if (v.is_string() && (c.kind == value_kind::text || c.kind == value_kind::uuid || c.kind == value_kind::other))
        return sign_of(v.get_ref<const std::string&>().compare(c.typed[n].s));  // no copy per row
    if (!read_row(c.kind, v, rv)) return std::nullopt;
    return compare_typed(c.kind, rv, c.typed[n]);
}

// SQL NULL: a missing column, sql_null(), or a JSON null outside json/jsonb columns.
bool sql_null_in(const json& v, bool json_column) { return is_sql_null(v) || (v.is_null() && !json_column); }

bool holds(const condition& c, const json& row) {
    static const json missing;
    auto it = row.find(c.column);
    const json& v = it == row.end() ? missing : *it;
    bool null = it == row.end() || sql_null_in(v, c.json);
    if (c.op == filter_op::is) {
        const std::string& w = c.values[0];
        if (w == "null") return null;
        if (w == "true") return v.is_boolean() && v.get<bool>();
        return v.is_boolean() && !v.get<bool>();
    }
    if (null) return false;  // SQL: comparisons with null are never true
    if (c.op == filter_op::in) {
        for (size_t n = 0; n < c.values.size(); ++n)
            if (compare(c, v, n) == 0) return true;
        return false;
    }
    auto r = compare(c, v, 0);
    if (!r) return false;
    switch (c.op) {
    case filter_op::eq: return *r == 0;
    case filter_op::neq: return *r != 0;
    case filter_op::lt: return *r < 0;
    case filter_op::lte: return *r <= 0;
    case filter_op::gt: return *r > 0;
    case filter_op::gte: return *r >= 0;
    default: return false;
    }
}

bool known(const std::vector<std::string>& columns, const std::string& c) {
    return columns.empty() || std::find(columns.begin(), columns.end(), c) != columns.end();
}

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
}

// The column's type name and kind ("" and unknown when types were not given).
std::pair<std::string, value_kind> type_of(const std::vector<std::string>& columns, const std::vector<std::string>& types,
                                           const std::string& column) {
    auto it = std::find(columns.begin(), columns.end(), column);
    if (it == columns.end() || size_t(it - columns.begin()) >= types.size()) return {"", value_kind::unknown};
    const std::string& t = types[size_t(it - columns.begin())];
    return {t, kind_of_type(t)};
}

const char* expected(value_kind k) {
    switch (k) {
    case value_kind::integer: return "an integer";
    case value_kind::numeric: return "a number (or NaN, Infinity, -Infinity)";
    case value_kind::float4:
    case value_kind::float8: return "a number (or NaN, Infinity, -Infinity)";
    case value_kind::boolean: return "true or false";
    case value_kind::uuid: return "a UUID";
    case value_kind::timestamptz: return "an ISO 8601 timestamp like 2026-12-02T10:00:00Z (or infinity, -infinity)";
    case value_kind::timestamp: return "an ISO 8601 date-time like 2026-12-02T10:00:00 (or infinity, -infinity)";
    case value_kind::date: return "a date like 2026-12-02 (or infinity, -infinity)";
    case value_kind::time: return "a time like 10:00:00";
    default: return "a value";
    }
}

}  // namespace


row_filter row_filter::parse(const std::vector<std::string>& exprs, const std::vector<std::string>& columns,
                             const std::vector<std::string>& types) {
    row_filter f;
    for (auto& e : exprs) {
        auto eq = e.find('=');
        auto dot = eq == std::string::npos ? eq : e.find('.', eq + 1);
        if (eq == std::string::npos || eq == 0 || dot == std::string::npos)
            throw filter_error("filter '" + e + "': expected column=operator.value, e.g. status=eq.open");
        condition c;
        c.column = e.substr(0, eq);
        if (!known(columns, c.column))
            throw filter_error("filter '" + e + "': no column '" + c.column + "' (columns: " + joined(columns) + ")");
        std::string op = e.substr(eq + 1, dot - eq - 1), value = e.substr(dot + 1);
        bool found = false;
        for (auto& o : op_names)
            if (op == o.name) {
                c.op = o.op;
                found = true;
            }
        if (!found)
            throw filter_error("filter '" + e + "': unknown operator '" + op +
                               "' (expected eq, neq, lt, lte, gt, gte, in or is)");
        auto [type, kind] = type_of(columns, types, c.column);
        c.kind = kind;
        c.json = is_json_type(type);
        if (c.op == filter_op::in) {
            c.values = parse_list(e, value);
        } else if (c.op == filter_op::is) {
            if (value != "null" && value != "true" && value != "false")
                throw filter_error("filter '" + e + "': is takes null, true or false");
            if (value != "null" && kind != value_kind::boolean && kind != value_kind::unknown && kind != value_kind::other)
                throw filter_error("filter '" + e + "': is." + value + " needs a boolean column; " + c.column + " is " + type);
            c.values = {value};
        } else {
            c.values = {value};
        }
        if (c.op != filter_op::is && kind != value_kind::unknown) {
            for (auto& v : c.values) {
                typed_value tv;
                if (!read_text(kind, v, tv))
                    throw filter_error("filter '" + e + "': " + name_of(c.op) + " needs " + expected(kind) +
                                       " for column " + c.column + " (" + type + "), not '" + v + "'");
                c.typed.push_back(std::move(tv));
            }
        }
        f.conditions_.push_back(std::move(c));
    }
    return f;
}

bool row_filter::matches(const json& row) const {
    for (auto& c : conditions_)
        if (!holds(c, row)) return false;
    return true;
}

std::string row_filter::canonical() const {
    std::vector<std::string> parts;
    for (auto& c : conditions_) {
        json v = c.values;
        parts.push_back(c.column + "=" + name_of(c.op) + "." + v.dump());
    }
    std::sort(parts.begin(), parts.end());
    std::string s;
    for (auto& p : parts) s += p + "&";
    return s;
}

row_order row_order::parse(const std::string& text, const std::vector<std::string>& columns,
                           const std::vector<std::string>& types) {
    row_order o;
    size_t at = 0;
    while (at < text.size()) {
        size_t comma = text.find(',', at);
        if (comma == std::string::npos) comma = text.size();
        std::string term = text.substr(at, comma - at);
        at = comma + 1;
        if (term.empty()) throw filter_error("order '" + text + "': empty term");
        order_term t;
        size_t dot = term.find('.');
        t.column = term.substr(0, dot);
        if (!known(columns, t.column))
            throw filter_error("order '" + term + "': no column '" + t.column + "' (columns: " + joined(columns) + ")");
        auto [type, kind] = type_of(columns, types, t.column);
        t.kind = kind;
        t.json = is_json_type(type);
        std::string rest = dot == std::string::npos ? "" : term.substr(dot + 1);
        std::string dir = rest.substr(0, rest.find('.'));
        std::string nulls = rest.find('.') == std::string::npos ? "" : rest.substr(rest.find('.') + 1);
        if (dir == "desc") t.desc = true;
        else if (dir != "asc" && !dir.empty())
            throw filter_error("order '" + term + "': expected asc or desc after the column, not '" + dir + "'");
        t.nulls_first = t.desc;  // PostgreSQL's defaults
        if (nulls == "nullsfirst") t.nulls_first = true;
        else if (nulls == "nullslast") t.nulls_first = false;
        else if (!nulls.empty())
            throw filter_error("order '" + term + "': expected nullsfirst or nullslast, not '" + nulls + "'");
        o.terms_.push_back(t);
    }
    return o;
}

namespace {
bool integral(const std::string& s) {
    size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
    return i < s.size() && s.find_first_not_of("0123456789", i) == std::string::npos;
}
// Integer keys of any length, numerically (no leading zeros: PostgreSQL writes none).
bool integer_before(const std::string& a, const std::string& b) {
    bool na = a[0] == '-', nb = b[0] == '-';
    if (na != nb) return na;
    if (a.size() != b.size()) return na ? a.size() > b.size() : a.size() < b.size();
    return na ? a > b : a < b;
}
}  // namespace

bool row_order::before(const json& a, const std::string& ka, const json& b, const std::string& kb) const {
    for (auto& t : terms_) {
        auto ia = a.find(t.column), ib = b.find(t.column);
        bool na = ia == a.end() || sql_null_in(*ia, t.json), nb = ib == b.end() || sql_null_in(*ib, t.json);
        if (na || nb) {
            if (na && nb) continue;
            return na ? t.nulls_first : !t.nulls_first;
        }
        int c = compare_values(t.kind, *ia, *ib);
        if (c != 0) return t.desc ? c > 0 : c < 0;
    }
    // Ties: by key, integer keys numerically, so the order is total and stable. Integer keys
    // come before the others: mixing the two rules alone is not transitive ("2" < "10" < "1a" < "2").
    bool ia = integral(ka), ib = integral(kb);
    if (ia && ib) return integer_before(ka, kb);
    if (ia != ib) return ia;
    return ka < kb;
}

std::string row_order::canonical() const {
    std::string s;
    for (auto& t : terms_) s += t.column + (t.desc ? ".desc" : ".asc") + (t.nulls_first ? ".nf," : ".nl,");
    return s;
}

}  // namespace pglive
