// filter.h — PostgREST-style row filters (column=op.value, ANDed) and their evaluation.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/change.h"

namespace pglive {

// A filter that cannot be parsed or names an unknown column. what() names the bad
// expression and what was expected, e.g. "filter 'amount=gt.x': gt needs a number for column amount".
struct filter_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

enum class filter_op { eq, neq, lt, lte, gt, gte, in, is };

// How a column's values compare, from its PostgreSQL type (kind_of_type). `unknown` (no type
// given) goes by the JSON value: numbers as exact decimals, booleans, else text.
enum class value_kind {
    unknown,
    integer,      // int2, int4, int8: integers of any width, exactly
    numeric,      // exact decimals; NaN = NaN, above +Infinity, above every number
    float4,       // compared as PostgreSQL's real (NaN = NaN and above +Infinity)
    float8,       // … double precision
    boolean,
    text,         // text, varchar, char, name, citext…: byte order (the C collation)
    uuid,         // byte order of the canonical lower-case text
    timestamptz,  // instants; "infinity"/"-infinity", BC, offsets
    timestamp,    // wall-clock date-times (an offset in a filter value is ignored, as ::timestamp does)
    date,
    time,         // time of day without zone
    other,        // json, jsonb, arrays, interval, bytea, enums, composites…: by their JSON text
};
// "bigint", "numeric", "timestamp with time zone", "character varying"… (format_type of the
// column's type, a domain's base type) → kind. An unlisted type is `other`.
value_kind kind_of_type(const std::string& pg_type);
// "json" or "jsonb": a JSON null there is a value, SQL NULL is sql_null() (core/exact_json.h).
bool is_json_type(const std::string& pg_type);
const char* to_string(value_kind k);

// A value read as its column's kind: a filter value once at parse time, a row value per comparison.
struct typed_value {
    enum class cls { neg_inf, finite, pos_inf, nan } c = cls::finite;
    int64_t i = 0;      // integer; timestamps µs since 2000-01-01 UTC; date days; time µs; boolean 0/1
    double d = 0;       // float4/float8
    std::string s;      // numeric: normalised digits (see filter.cpp); text/uuid/other: the text
    int64_t exp = 0;    // numeric: value = 0.s × 10^exp (s empty: zero)
    bool neg = false;   // numeric: sign
    bool big = false;   // integer kind holding a literal beyond int64 (as numeric fields)
};

struct condition {
    std::string column;
    filter_op op = filter_op::eq;
    std::vector<std::string> values;  // one value, or the list of `in`; `is`: "null", "true", "false"
    value_kind kind = value_kind::unknown;
    std::vector<typed_value> typed;   // values read as `kind` (empty for unknown and `is`)
    bool json = false;                // a json/jsonb column: JSON null is a value, not SQL NULL
};

class row_filter {
public:
    row_filter() = default;  // matches every row
    // Parses expressions like "status=eq.open", "status=in.(open,late)", "deleted_at=is.null".
    // `columns` are the topic's exposed columns; an unknown column is an error. `types` (same
    // order as columns, PostgreSQL type names as topic_info::types; may be empty) decide how
    // values compare; a value that does not read as its column's type is a filter_error, e.g.
    // "filter 'id=gt.x': gt needs an integer for column id (bigint)".
    static row_filter parse(const std::vector<std::string>& exprs, const std::vector<std::string>& columns,
                            const std::vector<std::string>& types = {});

    // PostgREST semantics on a row (a JSON object), comparing as PostgreSQL does for the
    // column's type (value_kind); null never matches eq/neq/lt/lte/gt/gte/in (SQL's
    // three-valued logic), only `is.null`. In a json/jsonb column a JSON null is a value
    // (eq.null matches it, is.null does not), as in PostgreSQL; SQL NULL there is sql_null().
    bool matches(const json& row) const;

    bool empty() const { return conditions_.empty(); }
    // A canonical text of the filter (sorted, normalised): equal filters give equal text.
    std::string canonical() const;
    const std::vector<condition>& conditions() const { return conditions_; }

private:
    std::vector<condition> conditions_;
};

// A window's order: "col.asc,col2.desc" (PostgREST `order`), nulls last for asc and first
// for desc (PostgreSQL's defaults), ties broken by the row key so the order is total.
struct order_term {
    std::string column;
    bool desc = false;
    bool nulls_first = false;  // default: first for desc, last for asc
    value_kind kind = value_kind::unknown;
    bool json = false;  // a json/jsonb column (see condition::json)
};

class row_order {
public:
    row_order() = default;  // by key only
    // Throws filter_error naming the bad term, e.g. "order 'amount.up': expected asc or desc".
    static row_order parse(const std::string& text, const std::vector<std::string>& columns,
                           const std::vector<std::string>& types = {});
    // True when row a (with key ka) comes before row b (with key kb).
    bool before(const json& a, const std::string& ka, const json& b, const std::string& kb) const;
    std::string canonical() const;
    const std::vector<order_term>& terms() const { return terms_; }

private:
    std::vector<order_term> terms_;
};

}  // namespace pglive
