// group_acc.h — one group's running aggregates: row count, non-NULL counts, exact sums, min/max multisets; rows in and out.
//
// Every aggregate can lose a row as well as gain one, so none keeps only a running extreme:
// sums are exact decimals (core/decimal.h) with the scales of the values present (numeric's sum
// shows the largest scale among its inputs), min/max an ordered multiset of the values present,
// compared as PostgreSQL compares the column's type (typed_value.h).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "core/aggregate_spec.h"
#include "core/decimal.h"

namespace pglive {

// A value of a min/max multiset, read once as its column's kind (not at every comparison).
struct ordered_value {
    json v;
    typed_value tv;
    bool typed = false;  // read as the kind: compared with compare_typed
};

// Orders values of one column as compare_values does for its type, ties by JSON value (1.5 and
// 1.50 stay two entries of the multiset: each row's own literal is what min/max show).
struct value_less {
    value_kind kind = value_kind::unknown;
    bool operator()(const ordered_value& a, const ordered_value& b) const;
};

struct term_acc {
    int64_t values = 0;  // non-NULL values (count:COL; avg's N)
    // sum/avg: finite values' exact sum, the scales present, and numeric's special values.
    decimal sum;
    std::map<int, int64_t> scales;
    int64_t nan = 0, pos_inf = 0, neg_inf = 0;
    // min/max: the values present.
    std::map<ordered_value, int64_t, value_less> present;
};

class group_acc {
public:
    explicit group_acc(const aggregate_spec& spec);
    // A row (matching the filter) enters or leaves the group.
    void add(const aggregate_spec& spec, const json& row) { step(spec, row, +1); }
    void remove(const aggregate_spec& spec, const json& row) { step(spec, row, -1); }
    int64_t rows() const { return rows_; }
    // The group's entry: `group_values` (the group columns) and one field per aggregate.
    json entry(const aggregate_spec& spec, const json& group_values) const;

private:
    void step(const aggregate_spec& spec, const json& row, int sign);
    int64_t rows_ = 0;
    std::vector<term_acc> acc_;
};

// The group columns of `row` as an object, and its group key (row-key rules; no group: "*"; one
// column: NULL is `null`, and a string `null` or one beginning with `"` is JSON-quoted).
// `row` may be a row or its group values.
json group_values(const aggregate_spec& spec, const json& row);
std::string group_key(const aggregate_spec& spec, const json& row);

}  // namespace pglive
