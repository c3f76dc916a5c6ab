// aggregates.h — the model's aggregate subscriptions (feature `aggregates`): random group/aggregate specs and GROUP BY from the oracle's replay.
//
// The oracle groups the rows its replay holds (never pglive's capture), with its own
// arithmetic (int128 sums) and PostgreSQL's comparison rules (values.h), into the state the
// protocol says an aggregate subscription shows (PROTOCOL §5): group key → entry of the group
// columns and one field per aggregate. Aggregates are chosen so that this is exact: count,
// count:COL, sum of integer columns, min/max of integer, text and timestamptz columns.
#pragma once

#include <string>
#include <vector>

#include "model/oracle.h"

namespace pglive::model {

// Fills s.group and s.aggs at random (s.table and s.conds already chosen).
void random_aggregate(spec& s, value_gen& g);
// The expected state: {group key: {field: [col_type, canonical text or null]}}.
json expected_groups(const spec& s, const table_state& state);
// Does the client's (tagged) state equal it? `diff` says why not.
bool groups_allowed(const spec& s, const json& expected, const json& state, std::string* diff);
// The group keys PostgreSQL gives for the same query (the oracle's self-check).
std::string groups_sql(const spec& s, const std::string& where);

}  // namespace pglive::model
