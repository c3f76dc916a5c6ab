// filter.cpp — PostgREST filters and orders: parsed once, evaluated on JSON rows.
#include "core/filter.h"

#include <algorithm>
#include <cstdlib>
#include <optional>

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

std::optional<double> as_number(const std::string& s) {
    if (s.empty()) return std::nullopt;
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size()) return std::nullopt;
    return d;
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
std::optional<int> compare(const json& v, const std::string& value) {
    if (v.is_number()) {
        auto d = as_number(value);
        if (!d) return std::nullopt;
        double x = v.get<double>();
        return x < *d ? -1 : x > *d ? 1 : 0;
    }
    if (v.is_boolean()) {
        if (value != "true" && value != "false") return std::nullopt;
        int a = v.get<bool>() ? 1 : 0, b = value == "true" ? 1 : 0;
        return a - b;
    }
    std::string s = v.is_string() ? v.get<std::string>() : v.dump();
    int c = s.compare(value);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
}

bool holds(const condition& c, const json& row) {
    auto it = row.find(c.column);
    const json& v = it == row.end() ? json() : *it;  // a missing column reads as null
    if (c.op == filter_op::is) {
        const std::string& w = c.values[0];
        if (w == "null") return v.is_null();
        if (w == "true") return v.is_boolean() && v.get<bool>();
        return v.is_boolean() && !v.get<bool>();
    }
    if (v.is_null()) return false;  // SQL: comparisons with null are never true
    if (c.op == filter_op::in) {
        for (auto& value : c.values)
            if (compare(v, value) == 0) return true;
        return false;
    }
    auto r = compare(v, c.values[0]);
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

}  // namespace

row_filter row_filter::parse(const std::vector<std::string>& exprs, const std::vector<std::string>& columns) {
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
        if (c.op == filter_op::in) {
            c.values = parse_list(e, value);
        } else if (c.op == filter_op::is) {
            if (value != "null" && value != "true" && value != "false")
                throw filter_error("filter '" + e + "': is takes null, true or false");
            c.values = {value};
        } else {
            c.values = {value};
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

row_order row_order::parse(const std::string& text, const std::vector<std::string>& columns) {
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
int type_rank(const json& v) {
    if (v.is_boolean()) return 0;
    if (v.is_number()) return 1;
    if (v.is_string()) return 2;
    return 3;
}
// Compares two non-null values: numbers numerically, strings bytewise, others by JSON text.
int compare_values(const json& a, const json& b) {
    int ra = type_rank(a), rb = type_rank(b);
    if (ra != rb) return ra < rb ? -1 : 1;
    if (a.is_number()) {
        double x = a.get<double>(), y = b.get<double>();
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a.is_boolean()) return int(a.get<bool>()) - int(b.get<bool>());
    std::string x = a.is_string() ? a.get<std::string>() : a.dump();
    std::string y = b.is_string() ? b.get<std::string>() : b.dump();
    int c = x.compare(y);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
}
bool integral(const std::string& s) {
    size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
    return i < s.size() && s.size() - i <= 18 && s.find_first_not_of("0123456789", i) == std::string::npos;
}
}  // namespace

bool row_order::before(const json& a, const std::string& ka, const json& b, const std::string& kb) const {
    for (auto& t : terms_) {
        auto ia = a.find(t.column), ib = b.find(t.column);
        bool na = ia == a.end() || ia->is_null(), nb = ib == b.end() || ib->is_null();
        if (na || nb) {
            if (na && nb) continue;
            return na ? t.nulls_first : !t.nulls_first;
        }
        int c = compare_values(*ia, *ib);
        if (c != 0) return t.desc ? c > 0 : c < 0;
    }
    // Ties: by key, integer keys numerically, so the order is total and stable. Integer keys
    // come before the others: mixing the two rules alone is not transitive ("2" < "10" < "1a" < "2").
    bool ia = integral(ka), ib = integral(kb);
    if (ia && ib) return std::stoll(ka) < std::stoll(kb);
    if (ia != ib) return ia;
    return ka < kb;
}

std::string row_order::canonical() const {
    std::string s;
    for (auto& t : terms_) s += t.column + (t.desc ? ".desc" : ".asc") + (t.nulls_first ? ".nf," : ".nl,");
    return s;
}

}  // namespace pglive
