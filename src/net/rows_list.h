// rows_list.h — GET /api/topics/{topic}/rows&form=list: the keyed rows of a REST answer as a list in the window's order.
#pragma once

#include <string>

#include "core/change.h"

namespace pglive {

// `rows`: row key → row, as the hub answered (JSON object members come out sorted by key, so the
// window's order is lost there). Returns the rows as a JSON array sorted by `order` (PostgREST
// text, "" = by key), ties and the default broken by the row key as the hub's windows are.
//
// The hub holds the columns' PostgreSQL types; this side sees only the rows, so each ordered
// column's kind is read from its values: all numbers (or NaN/±Infinity strings) compare as exact
// decimals, all booleans as booleans, strings that all read as timestamps, dates or times as
// such, other strings by bytes, anything else by JSON text — the wire forms of PROTOCOL §4 sort
// this way as their types do. An order text that does not parse falls back to key order (the
// hub already refused a bad one before answering).
json rows_in_order(const json& rows, const std::string& order);

}  // namespace pglive
