// key.h — row keys as text (PROTOCOL §4) and JSON Pointer escaping.
#pragma once

#include <string>
#include <vector>

#include "core/change.h"

namespace pglive {

// The row key of `row` for key columns `key_cols`: one column → its value as text (a string
// as is, a number in decimal, true/false); several → the values as a compact JSON array text,
// e.g. [7,"eu"]. Throws std::invalid_argument naming the missing key column.
std::string row_key(const json& row, const std::vector<std::string>& key_cols);

// RFC 6901 escaping of one reference token: "~" → "~0", "/" → "~1".
std::string pointer_escape(const std::string& token);

}  // namespace pglive
