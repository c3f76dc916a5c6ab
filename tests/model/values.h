// values.h — the model test's tables, their column types, and values as PostgreSQL spells them.
//
// A value is held as PostgreSQL's own text for it (std::nullopt for SQL NULL), with
// timestamptz in one canonical UTC form, so the oracle never goes through double or a time zone.
// Frames from the server are parsed with every JSON number kept as its literal text
// ("tagged": a string starting with \x01), so a number is compared digit for digit.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pglive::model {

using json = nlohmann::json;

enum class col_type { int4, int8, numeric, float8, text, boolean, timestamptz, jsonb };
const char* sql_type(col_type t);

struct column {
    std::string name;
    col_type type;
    bool hidden = false;  // attached with --exclude: never on the wire
};

struct table_def {
    std::string name;   // "mt"
    std::string topic;  // "public.mt"
    std::vector<column> cols;
    std::vector<int> key;  // column indexes
    int index(const std::string& col) const;
    std::vector<int> exposed() const;
};

// The two tables: mt (every type, extreme values, a hidden column) and st (composite text/int key).
const std::vector<table_def>& tables();
enum { MT = 0, ST = 1 };

using value = std::optional<std::string>;  // canonical PostgreSQL text; nullopt = SQL NULL
using row = std::vector<value>;            // one per column of the table

// The SQL expression reading column `expr` of type t as the canonical text held in `value`.
std::string canonical_sql(const std::string& expr, col_type t);

// PostgreSQL's ordering of two non-null canonical values of type t (jsonb: unsupported).
int compare_values(col_type t, const std::string& a, const std::string& b);

// The protocol's row key of a row: the key column's text, or a JSON array text for several.
std::string row_key(const table_def& t, const row& r);

// JSON text → json with every number replaced by a tagged string holding its literal.
json parse_tagged(const std::string& text);
bool is_tagged_number(const json& v);
std::string tagged_text(const json& v);  // the literal of a tagged number
// Printable form of a tagged json (numbers back as literals).
std::string show(const json& v);

// Does the client's wire value equal the expected canonical value? Integers and numerics
// digit for digit, floats as the same double (NaN/±Infinity as strings), timestamptz as the
// same instant written in UTC, jsonb structurally with numbers as literals.
bool wire_equals(col_type t, const value& expected, const json& actual, std::string* why = nullptr);

// Random values for the workload and for filter literals. `hard` turns on extreme values
// (types feature); `zones` writes timestamptz literals in other offsets.
struct value_gen {
    std::mt19937_64& rng;
    bool hard;
    bool zones;
    // A SQL literal of type t ("NULL" allowed when nullable).
    std::string literal(col_type t, bool nullable = true);
    // A filter literal (PostgREST value text, not SQL) of type t; never NULL.
    std::string filter_literal(col_type t);
    int64_t mt_id();
    std::string st_k();
    int st_n();
    std::string text();
    std::string timestamp_text();  // ISO text, with an offset when zones
    uint64_t next() { return rng(); }
    int pick(int n) { return int(rng() % uint64_t(n)); }
    bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }
};

std::string sql_quote(const std::string& s);

}  // namespace pglive::model
