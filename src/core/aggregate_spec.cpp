// aggregate_spec.cpp — `group`, `aggregate` and a group order parsed against the topic's columns, with errors that name the field.
#include "core/aggregate_spec.h"

#include <algorithm>

#include "core/exact_json.h"

namespace pglive {

namespace {

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
}

std::string type_of(const std::vector<std::string>& columns, const std::vector<std::string>& types, const std::string& c) {
    auto it = std::find(columns.begin(), columns.end(), c);
    if (it == columns.end() || size_t(it - columns.begin()) >= types.size()) return "";
    return types[size_t(it - columns.begin())];
}

bool summable(value_kind k) {
    return k == value_kind::unknown || k == value_kind::integer || k == value_kind::numeric || k == value_kind::float4 ||
           k == value_kind::float8;
}

}  // namespace

aggregate_spec aggregate_spec::parse(const std::vector<std::string>& group, const std::vector<std::string>& aggregates,
                                     const std::string& order, const std::vector<std::string>& columns,
                                     const std::vector<std::string>& types) {
    aggregate_spec a;
    auto column_known = [&](const std::string& c) { return columns.empty() || has(columns, c); };
    std::vector<std::string> field_types;
    for (auto& g : group) {
        if (g.empty()) throw filter_error("group: empty column name");
        if (!column_known(g))
            throw filter_error("group '" + g + "': no column '" + g + "' (columns: " + joined(columns) +
                               "; hidden columns cannot be grouped on)");
        if (has(a.group, g)) throw filter_error("group '" + g + "': column given twice");
        std::string t = type_of(columns, types, g);
        a.group.push_back(g);
        a.group_kinds.push_back(kind_of_type(t));
        a.group_json.push_back(is_json_type(t));
        a.fields.push_back(g);
        field_types.push_back(t);
    }
    for (auto& text : aggregates) {
        aggregate_term t;
        t.name = text;
        size_t colon = text.find(':');
        std::string fn = text.substr(0, colon);
        if (colon != std::string::npos) t.column = text.substr(colon + 1);
        if (fn == "count") t.fn = t.column.empty() ? agg_fn::count_rows : agg_fn::count;
        else if (fn == "sum") t.fn = agg_fn::sum;
        else if (fn == "avg") t.fn = agg_fn::avg;
        else if (fn == "min") t.fn = agg_fn::min;
        else if (fn == "max") t.fn = agg_fn::max;
        else
            throw filter_error("aggregate '" + text + "': unknown function '" + fn +
                               "' (expected count, count:COL, sum:COL, avg:COL, min:COL or max:COL)");
        if (colon != std::string::npos && t.column.empty())
            throw filter_error("aggregate '" + text + "': expected a column after ':'");
        if (t.fn != agg_fn::count_rows && colon == std::string::npos)
            throw filter_error("aggregate '" + text + "': " + fn + " needs a column, as " + fn + ":COL");
        std::string col_type;
        if (!t.column.empty()) {
            if (!column_known(t.column))
                throw filter_error("aggregate '" + text + "': no column '" + t.column + "' (columns: " + joined(columns) + ")");
            col_type = type_of(columns, types, t.column);
            t.kind = kind_of_type(col_type);
            t.json = is_json_type(col_type);
        }
        if ((t.fn == agg_fn::sum || t.fn == agg_fn::avg) && !summable(t.kind))
            throw filter_error("aggregate '" + text + "': " + fn + " needs a numeric column; " + t.column + " is " + col_type);
        if (has(a.fields, text))
            throw filter_error("aggregate '" + text + "': given twice, or the name of a group column");
        a.fields.push_back(text);
        switch (t.fn) {
        case agg_fn::count_rows:
        case agg_fn::count: field_types.push_back("bigint"); break;
        case agg_fn::sum:
        case agg_fn::avg: field_types.push_back("numeric"); break;
        default: field_types.push_back(col_type);
        }
        a.terms.push_back(std::move(t));
    }
    // The order names entry fields; checked here for an error that says what may be named.
    for (size_t at = 0; at < order.size();) {
        size_t comma = order.find(',', at);
        if (comma == std::string::npos) comma = order.size();
        std::string term = order.substr(at, comma - at);
        at = comma + 1;
        // An aggregate name may hold a '.' in its column: the longest field that prefixes the term.
        std::string name;
        for (auto& f : a.fields)
            if (term.compare(0, f.size(), f) == 0 && (term.size() == f.size() || term[f.size()] == '.') && f.size() > name.size())
                name = f;
        if (name.empty())
            throw filter_error("order '" + term + "': '" + term.substr(0, term.find('.')) +
                               "' is neither a group column nor an aggregate of this subscription (" + joined(a.fields) + ")");
    }
    a.order = row_order::parse(order, a.fields, field_types);
    return a;
}

std::string aggregate_spec::canonical() const {
    json names = json::array();
    for (auto& t : terms) names.push_back(t.name);
    return json(group).dump() + names.dump() + order.canonical();
}

}  // namespace pglive
