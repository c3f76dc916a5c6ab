// filter.h — PostgREST-style row filters (column=op.value, ANDed) and their evaluation.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/change.h"
#include "core/typed_value.h"

namespace pglive {

// A filter that cannot be parsed or names an unknown column. what() names the bad
// expression and what was expected, e.g. "filter 'amount=gt.x': gt needs a number for column amount".
struct filter_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

enum class filter_op { eq, neq, lt, lte, gt, gte, in, is };

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
