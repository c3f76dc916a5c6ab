// exact_json.h — JSON whose numbers keep the literal PostgreSQL wrote (docs/DESIGN.md, "Exact values").
//
// nlohmann/json turns every number that is not an int64/uint64 into a double: numeric and
// bigint-beyond-2^53 values lose digits, and a numeric beyond double's range does not parse at
// all. parse_exact keeps integers that fit int64/uint64 as nlohmann integers and every other
// number as an "exact number": a json *binary* value (subtype exact_number_subtype) holding the
// literal's bytes. Binary values cannot come out of JSON text (only out of CBOR/MessagePack,
// which pglive never parses), so no client-supplied value can pose as one; dump_exact still
// checks that each one holds a valid JSON number literal before writing it raw.
//
// Equality, ordering (std::map keys) and copies of exact numbers work as for any json value:
// two literals are equal when their bytes are (1.5 and 1.50 differ, as their text does).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/change.h"

namespace pglive {

inline constexpr std::uint8_t exact_number_subtype = 0x23;  // '#'

// A text that is not JSON. what() gives the byte offset and never quotes the text (it may be a
// row value: logs and /healthz must not show it).
struct exact_json_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// SQL NULL in a json/jsonb column, where JSON null is a value (PostgreSQL's IS NULL is false for
// 'null'::jsonb). to_jsonb(row) writes both as null, so the capture functions and loads leave a
// SQL NULL json/jsonb column out of the row image, and the hub puts this value back in its place
// (restore_sql_nulls). It is written as null; filters and orders read it as SQL NULL. Like exact
// numbers it is a binary value, which no JSON text can produce.
inline constexpr std::uint8_t sql_null_subtype = 0x30;  // '0'
json sql_null();
bool is_sql_null(const json& v);
// Each of `json_columns` missing from the object `row` becomes sql_null().
void restore_sql_nulls(json& row, const std::vector<std::string>& json_columns);

// Parses JSON text; numbers as described above. Strings must be valid UTF-8. Throws exact_json_error.
json parse_exact(std::string_view text);

// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool valid_number_literal(std::string_view s);

// An exact number from a literal; throws std::invalid_argument when it is not a JSON number literal.
json exact_number(std::string_view literal);
bool is_exact_number(const json& v);
// The literal of an exact number ("" for any other value).
std::string_view exact_literal(const json& v);

// True for nlohmann numbers and exact numbers.
bool is_any_number(const json& v);
// The number's text as it goes on the wire: an exact number's literal, an integer in decimal.
// Precondition: is_any_number(v).
std::string number_text(const json& v);

// Compact JSON text like json::dump(), with exact numbers written as their literal. Throws
// nlohmann's type_error 316 on a string that is not valid UTF-8, as dump() does.
std::string dump_exact(const json& v);
void dump_exact(const json& v, std::string& out);

}  // namespace pglive
