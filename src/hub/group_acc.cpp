// group_acc.cpp — a group's aggregates moved by rows entering and leaving, and its entry as the wire shows it (exact, PostgreSQL's scales).
#include "hub/group_acc.h"

#include "core/exact_json.h"
#include "core/key.h"

namespace pglive {

namespace {

// SQL NULL: absent, null, or in a json/jsonb column sql_null() (a JSON null there is a value).
bool sql_null(const json* v, bool json_column) {
    return !v || is_sql_null(*v) || (v->is_null() && !json_column);
}

enum class num { finite, nan, pos_inf, neg_inf, none };

// A summable value: a JSON number (exact), or numeric's/float's "NaN", "Infinity", "-Infinity".
num read_number(const json& v, decimal& out) {
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        if (s == "NaN") return num::nan;
        if (s == "Infinity") return num::pos_inf;
        if (s == "-Infinity") return num::neg_inf;
        return num::none;
    }
    if (v.is_number_integer()) {
        out = decimal::of(v.get<int64_t>());
        return num::finite;
    }
    if (!is_any_number(v)) return num::none;
    auto d = decimal::parse(number_text(v));
    if (!d) return num::none;
    out = std::move(*d);
    return num::finite;
}

json special(const term_acc& a) {
    if (a.nan || (a.pos_inf && a.neg_inf)) return "NaN";
    if (a.pos_inf) return "Infinity";
    return "-Infinity";
}

json number_json(const std::string& literal) { return parse_exact(literal); }

}  // namespace

namespace {
// Kinds whose compare_values is read_row + compare_typed (the others compare strings as they are,
// or go by the JSON type first).
bool typed_kind(value_kind k) {
    return k != value_kind::unknown && k != value_kind::text && k != value_kind::uuid && k != value_kind::other;
}

ordered_value ordered(value_kind k, const json& v) {
    ordered_value o{v, {}, false};
    if (typed_kind(k)) o.typed = read_row(k, v, o.tv);
    return o;
}
}  // namespace

bool value_less::operator()(const ordered_value& a, const ordered_value& b) const {
    int c = a.typed && b.typed ? compare_typed(kind, a.tv, b.tv) : compare_values(kind, a.v, b.v);
    if (c != 0) return c < 0;
    return a.v < b.v;
}

group_acc::group_acc(const aggregate_spec& spec) {
    acc_.reserve(spec.terms.size());
    for (auto& t : spec.terms) {
        term_acc a;
        a.present = std::map<ordered_value, int64_t, value_less>(value_less{t.kind});
        acc_.push_back(std::move(a));
    }
}

void group_acc::step(const aggregate_spec& spec, const json& row, int sign) {
    rows_ += sign;
    for (size_t i = 0; i < spec.terms.size(); ++i) {
        const aggregate_term& t = spec.terms[i];
        if (t.fn == agg_fn::count_rows) continue;
        auto it = row.find(t.column);
        const json* v = it == row.end() ? nullptr : &*it;
        if (sql_null(v, t.json)) continue;
        term_acc& a = acc_[i];
        a.values += sign;
        if (t.fn == agg_fn::sum || t.fn == agg_fn::avg) {
            decimal d;
            switch (read_number(*v, d)) {
            case num::finite:
                if (sign > 0) a.sum += d;
                else a.sum -= d;
                if ((a.scales[d.scale()] += sign) == 0) a.scales.erase(d.scale());
                break;
            case num::nan: a.nan += sign; break;
            case num::pos_inf: a.pos_inf += sign; break;
            case num::neg_inf: a.neg_inf += sign; break;
            case num::none: a.values -= sign; break;  // not a number (PostgreSQL would not write one)
            }
        } else if (t.fn == agg_fn::min || t.fn == agg_fn::max) {
            auto p = a.present.try_emplace(ordered(t.kind, *v), 0).first;
            if ((p->second += sign) <= 0) a.present.erase(p);
        }
    }
}

json group_acc::entry(const aggregate_spec& spec, const json& group_values) const {
    json e = group_values;
    for (size_t i = 0; i < spec.terms.size(); ++i) {
        const aggregate_term& t = spec.terms[i];
        const term_acc& a = acc_[i];
        json v;
        switch (t.fn) {
        case agg_fn::count_rows: v = rows_; break;
        case agg_fn::count: v = a.values; break;
        case agg_fn::sum:
        case agg_fn::avg: {
            if (a.values <= 0) break;  // SQL NULL: no non-NULL value
            if (a.nan || a.pos_inf || a.neg_inf) {
                v = special(a);
                break;
            }
            // numeric's sum shows the largest scale of its inputs; the sum is exact at it.
            int scale = a.scales.empty() ? 0 : a.scales.rbegin()->first;
            std::string sum = a.sum.text(scale);
            if (t.fn == agg_fn::sum) {
                v = number_json(sum);
            } else {
                decimal s = *decimal::parse(sum);
                v = number_json(s.divided(uint64_t(a.values), s.div_scale(uint64_t(a.values), scale)).text());
            }
            break;
        }
        case agg_fn::min:
            if (!a.present.empty()) v = a.present.begin()->first.v;
            break;
        case agg_fn::max:
            if (!a.present.empty()) v = a.present.rbegin()->first.v;
            break;
        }
        e[t.name] = std::move(v);
    }
    return e;
}

json group_values(const aggregate_spec& spec, const json& row) {
    json g = json::object();
    for (auto& c : spec.group) {
        auto it = row.find(c);
        g[c] = it == row.end() ? json() : *it;
    }
    return g;
}

std::string group_key(const aggregate_spec& spec, const json& row) {
    if (spec.group.empty()) return "*";
    static const json null;
    auto value_of = [&](const std::string& c) -> const json& {
        auto it = row.find(c);
        return it == row.end() ? null : *it;
    };
    if (spec.group.size() > 1) {
        json parts = json::array();
        for (auto& c : spec.group) parts.push_back(value_of(c));
        return dump_exact(parts);  // row-key rules: several columns as a JSON array text
    }
    // One column: its value as text. NULL is `null`; so that no string can take its key, a
    // string that is `null` or begins with a double quote is written as its JSON string
    // (`"null"`): keys never collide.
    const json& v = value_of(spec.group[0]);
    if (!v.is_string()) return dump_exact(v);
    const auto& s = v.get_ref<const std::string&>();
    if (s == "null" || (!s.empty() && s[0] == '"')) return dump_exact(v);
    return s;
}

}  // namespace pglive
