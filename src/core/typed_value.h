// typed_value.h — a column's values read and compared as PostgreSQL does for its type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/change.h"

namespace pglive {

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

// Reads a text (a filter value, or a row's string) as `k`; false when it does not read.
bool read_text(value_kind k, std::string_view s, typed_value& out);
// Reads a row's (non-null) value as `k`; false when it does not read (then it never matches).
bool read_row(value_kind k, const json& v, typed_value& out);
// -1, 0, 1 for two values read as `k`.
int compare_typed(value_kind k, const typed_value& a, const typed_value& b);
// A column of unknown type goes by the row's JSON value: numbers exactly, booleans, else text.
value_kind inferred(const json& v);
// Compares two non-null row values of a column of kind k (an order). A value that does not
// read as k (which PostgreSQL would not have written) sorts after those that do, by its text.
int compare_values(value_kind k, const json& a, const json& b);

inline int sign_of(int c) { return c < 0 ? -1 : c > 0 ? 1 : 0; }

}  // namespace pglive
