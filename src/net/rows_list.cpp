// rows_list.cpp — sorts a REST answer's rows by the subscription's order, column kinds read from the values.
#include "net/rows_list.h"

#include <algorithm>
#include <set>
#include <vector>

#include "core/exact_json.h"
#include "core/filter.h"
#include "core/typed_value.h"

namespace pglive {

namespace {

bool special_number(const json& v) {
    if (!v.is_string()) return false;
    auto& s = v.get_ref<const std::string&>();
    return s == "NaN" || s == "Infinity" || s == "-Infinity";
}

// The PostgreSQL type name whose comparison the wire forms of `values` follow (see the header).
std::string type_of(const std::vector<const json*>& values) {
    bool numbers = true, booleans = true, strings = true, any_number = false;
    for (auto* v : values) {
        if (v->is_null() || is_sql_null(*v)) continue;
        bool num = is_any_number(*v);
        any_number = any_number || num;
        numbers = numbers && (num || special_number(*v));
        booleans = booleans && v->is_boolean();
        strings = strings && v->is_string();
    }
    if (numbers && any_number) return "numeric";
    if (booleans) return "boolean";
    if (!strings) return "";  // objects, arrays, mixed: by JSON text
    const std::pair<value_kind, const char*> candidates[] = {{value_kind::timestamptz, "timestamp with time zone"},
                                                             {value_kind::date, "date"},
                                                             {value_kind::time, "time"}};
    for (auto& [kind, name] : candidates) {
        bool all = true;
        size_t seen = 0;
        for (auto* v : values) {
            if (!v->is_string()) continue;
            typed_value tv;
            if (!read_text(kind, v->get_ref<const std::string&>(), tv)) { all = false; break; }
            ++seen;
        }
        if (all && seen) return name;
    }
    return "text";
}

}  // namespace

json rows_in_order(const json& rows, const std::string& order) {
    json out = json::array();
    if (!rows.is_object()) return out;
    std::vector<std::pair<std::string, const json*>> list;
    std::set<std::string> names;
    for (auto it = rows.begin(); it != rows.end(); ++it) {
        list.emplace_back(it.key(), &it.value());
        if (it.value().is_object())
            for (auto c = it.value().begin(); c != it.value().end(); ++c) names.insert(c.key());
    }
    std::vector<std::string> columns(names.begin(), names.end()), types;
    for (auto& c : columns) {
        std::vector<const json*> values;
        for (auto& [k, r] : list)
            if (r->is_object())
                if (auto f = r->find(c); f != r->end()) values.push_back(&*f);
        types.push_back(type_of(values));
    }
    row_order o;
    if (!order.empty()) {
        try {
            o = row_order::parse(order, columns, types);
        } catch (const std::exception&) {
            o = row_order();  // by key
        }
    }
    static const json empty = json::object();
    std::stable_sort(list.begin(), list.end(), [&](const auto& a, const auto& b) {
        return o.before(a.second->is_object() ? *a.second : empty, a.first, b.second->is_object() ? *b.second : empty, b.first);
    });
    for (auto& [k, r] : list) out.push_back(*r);
    return out;
}

}  // namespace pglive
