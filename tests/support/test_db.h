// test_db.h — a suite's throwaway PostgreSQL with the pglive schema, and the queries tests ask it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pgtmp/cluster.h"
#include "core/change.h"

namespace pglive::test {

class test_db {
public:
    // Starts a private cluster (fsync off: durability is not under test) and installs the schema.
    explicit test_db(std::vector<std::string> settings = {"fsync=off"});
    ~test_db();  // stops PostgreSQL and removes its directory

    cluster& pg() { return *pg_; }
    std::string conninfo(const std::string& db = "postgres") const { return pg_->conninfo(db); }
    // The role `pglive serve` runs as in the suites: no superuser (see the constructor).
    static constexpr const char* serve_role = "pglive_e2e_serve";
    std::string serve_conninfo(const std::string& db = "postgres") const;

    void sql(const std::string& text);
    json query_json(const std::string& text);  // the first column of the first row, as JSON
    // The protocol's state object for `select` (a subquery with an `id` column): id text → row.
    json rows_of(const std::string& select);
    // The position of the last commit, once every captured change has one (pglive's sequencer
    // stamps positions after commit, when its listener wakes).
    int64_t settled_position();

private:
    std::unique_ptr<cluster> pg_;
};

// One subscription's view, built only from what the server sent: snapshot, then patches.
struct view {
    json state = json::object();
    int64_t pos = -1;
    int snapshots = 0;
    std::vector<json> patches;  // whole patch messages, in arrival order
    int catch_ups = 0;          // patches with `from` (a resync's merged patch)
    int misplaced_catch_ups = 0;  // …whose `from` was not this view's position: it would skip or repeat

    void take(const json& m);
    std::vector<int64_t> positions() const;
};

bool strictly_increasing(const std::vector<int64_t>& v);

}  // namespace pglive::test
