// aggregate_spec.h — an aggregate subscription's `group`, `aggregate` and group `order` read and checked against the topic's columns (PROTOCOL §5).
#pragma once

#include <string>
#include <vector>

#include "core/filter.h"

namespace pglive {

enum class agg_fn { count_rows, count, sum, avg, min, max };

// One requested aggregate: `count`, `count:COL`, `sum:COL`, `avg:COL`, `min:COL`, `max:COL`.
struct aggregate_term {
    agg_fn fn = agg_fn::count_rows;
    std::string name;    // as requested: the entry's field
    std::string column;  // empty for count
    value_kind kind = value_kind::unknown;  // the column's
    bool json = false;   // a json/jsonb column: JSON null is a value (SQL NULL is sql_null())
};

struct aggregate_spec {
    std::vector<std::string> group;        // group columns, in request order
    std::vector<value_kind> group_kinds;
    std::vector<bool> group_json;
    std::vector<aggregate_term> terms;
    row_order order;                       // over entries: group columns and aggregate names
    std::vector<std::string> fields;       // the entry's fields: group columns, then aggregate names

    // Throws filter_error naming the bad field: "group 'x': no column 'x' (columns: …; hidden
    // columns are not columns here)", "aggregate 'median:amount': unknown function 'median'…",
    // "aggregate 'sum:status': sum needs a numeric column; status is text", "order 'x.desc': …".
    static aggregate_spec parse(const std::vector<std::string>& group, const std::vector<std::string>& aggregates,
                                const std::string& order, const std::vector<std::string>& columns,
                                const std::vector<std::string>& types = {});
    // Equal specs give equal text.
    std::string canonical() const;
};

}  // namespace pglive
