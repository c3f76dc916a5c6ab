// test_db.cpp — the throwaway database of a test suite, and a subscriber's view.
#include "support/test_db.h"

#include <gtest/gtest.h>

#include "capture/admin.h"
#include "capture/db.h"
#include "support/process.h"

namespace pglive::test {

test_db::test_db(std::vector<std::string> settings) {
    cluster::options o;
    o.settings = std::move(settings);
    pg_ = std::make_unique<cluster>(o);
    pg_->start();
    auto conn = open_connection(pg_->conninfo(), "test");
    install_schema(*conn);
    // serve runs as a role with only what pglive.grant_serve gives and SELECT on the tables
    // (the README's least privilege), never as the superuser that creates and attaches them.
    pqxx::work w(*conn);
    w.exec("create role " + std::string(serve_role) + " login");
    w.exec("select pglive.grant_serve('" + std::string(serve_role) + "')");
    w.exec("alter default privileges in schema public grant select on tables to " + std::string(serve_role));
    w.commit();
}

std::string test_db::serve_conninfo(const std::string& db) const {
    auto ci = conninfo(db);
    return ci.replace(ci.find("postgres@"), 9, std::string(serve_role) + "@");
}

test_db::~test_db() = default;

void test_db::sql(const std::string& text) {
    auto conn = open_connection(conninfo(), "test");
    pqxx::work w(*conn);
    w.exec(text);
    w.commit();
}

json test_db::query_json(const std::string& text) {
    auto conn = open_connection(conninfo(), "test");
    pqxx::work w(*conn);
    auto r = w.exec(text);
    return json::parse(r[0][0].c_str());
}

json test_db::rows_of(const std::string& select) {
    return query_json("SELECT coalesce(jsonb_object_agg(id::text, to_jsonb(t)), '{}') FROM (" + select + ") t");
}

int64_t test_db::settled_position() {
    bool sequenced = eventually([this] {
        return query_json("SELECT to_jsonb(count(*)) FROM pglive.outbox o WHERE NOT EXISTS "
                          "(SELECT 1 FROM pglive.tx t WHERE t.xid = o.xid)")
                   .get<int>() == 0;
    }, std::chrono::seconds(30));
    EXPECT_TRUE(sequenced) << "captured transactions still without a position";
    return query_json("SELECT to_jsonb(coalesce(max(position),0)) FROM pglive.tx").get<int64_t>();
}

void view::take(const json& m) {
    if (m["type"] == "snapshot") {
        state = m["rows"];
        pos = std::stoll(m["pos"].get<std::string>());
        ++snapshots;
    } else if (m["type"] == "patch") {
        if (m.contains("from")) {
            ++catch_ups;
            if (std::stoll(m["from"].get<std::string>()) != pos) ++misplaced_catch_ups;
        }
        state.patch_inplace(m["patch"]);  // in place: a copy per patch would make the client the bottleneck
        pos = std::stoll(m["pos"].get<std::string>());
        patches.push_back(m);
    }
}

std::vector<int64_t> view::positions() const {
    std::vector<int64_t> out;
    for (auto& p : patches) out.push_back(std::stoll(p["pos"].get<std::string>()));
    return out;
}

bool strictly_increasing(const std::vector<int64_t>& v) {
    for (size_t i = 1; i < v.size(); ++i)
        if (v[i] <= v[i - 1]) return false;
    return true;
}

}  // namespace pglive::test
