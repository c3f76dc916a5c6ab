// policy_test.cpp — row policies: claims resolved as literals, forbidden callers, and the hub ANDing the policy.
#include <gtest/gtest.h>

#include "core/exact_json.h"
#include "core/filter.h"
#include "core/policy.h"
#include "hub/hub.h"

namespace pglive {
namespace {

topic_info orders(std::string policy) {
    return topic_info{"public.orders", {"id"}, {"id", "tenant", "amount", "flag"},
                      {"bigint", "text", "integer", "boolean"}, std::move(policy)};
}

access reader(json claims) {
    access a;
    a.authenticated = true;
    a.user = "u";
    a.topics = {"*"};
    a.claims = std::move(claims);
    return a;
}

json row(int id, const std::string& tenant, int amount = 1) {
    return json{{"id", id}, {"tenant", tenant}, {"amount", amount}, {"flag", true}};
}

// The resolved policy as the hub parses it: one condition per term.
row_filter parsed(const policy_result& p) {
    EXPECT_EQ(p.forbidden, "");
    return row_filter::parse(p.filters, orders("").columns, orders("").types);
}

TEST(PolicyResolve, no_policy_and_admin_read_without_filters) {
    EXPECT_TRUE(resolve_policy(orders(""), reader(json::object())).filters.empty());
    access admin = reader(json::object());  // no tenant claim at all
    admin.admin = true;
    auto p = resolve_policy(orders("tenant=eq.{tenant}"), admin);
    EXPECT_EQ(p.forbidden, "");
    EXPECT_TRUE(p.filters.empty());
}

TEST(PolicyResolve, claims_are_put_in_as_values) {
    auto p = resolve_policy(orders("tenant=eq.{tenant}&amount=gt.{min}&flag=eq.{f}&id=lt.100"),
                            reader({{"tenant", "acme"}, {"min", 5}, {"f", false}}));
    EXPECT_EQ(p.filters, (std::vector<std::string>{"tenant=eq.acme", "amount=gt.5", "flag=eq.false", "id=lt.100"}));
    auto f = parsed(p);
    EXPECT_FALSE(f.matches(row(1, "acme", 7)));  // flag true
    json r = row(1, "acme", 7);
    r["flag"] = false;
    EXPECT_TRUE(f.matches(r));
    r["tenant"] = "other";
    EXPECT_FALSE(f.matches(r));
}

TEST(PolicyResolve, numbers_keep_their_exact_literal) {
    // verify_jwt reads claims with parse_exact: a number beyond int64 keeps every digit.
    json claims = parse_exact(R"({"tenant": 123456789012345678901234567890, "n": 42})");
    auto p = resolve_policy(orders("tenant=eq.{tenant}&id=eq.{n}"), reader(claims));
    EXPECT_EQ(p.filters, (std::vector<std::string>{"tenant=eq.123456789012345678901234567890", "id=eq.42"}));
}

TEST(PolicyResolve, hostile_claim_values_stay_one_literal) {
    for (std::string hostile : {"x,y", "(a,b)", "eq.z", "in.(a,b)", "a&id=gt.0", "\"q\"", "back\\slash", "{tenant}", ""}) {
        SCOPED_TRACE(hostile);
        auto f = parsed(resolve_policy(orders("tenant=eq.{tenant}"), reader({{"tenant", hostile}})));
        ASSERT_EQ(f.conditions().size(), 1u);
        EXPECT_EQ(f.conditions()[0].op, filter_op::eq);
        EXPECT_EQ(f.conditions()[0].values, std::vector<std::string>{hostile});
        EXPECT_TRUE(f.matches(row(1, hostile)));
        EXPECT_FALSE(f.matches(row(1, "x")));
        EXPECT_FALSE(f.matches(row(1, "a")));
    }
}

TEST(PolicyResolve, a_claim_in_an_in_list_is_one_element) {
    for (std::string hostile : {"x,y", "(a,b)", "a\",\"b", "\\", "\\\"", "z)", ""}) {
        SCOPED_TRACE(hostile);
        auto f = parsed(resolve_policy(orders("tenant=in.({tenant},\"lit,eral\",plain)"), reader({{"tenant", hostile}})));
        ASSERT_EQ(f.conditions().size(), 1u);
        EXPECT_EQ(f.conditions()[0].op, filter_op::in);
        EXPECT_EQ(f.conditions()[0].values, (std::vector<std::string>{hostile, "lit,eral", "plain"}));
        EXPECT_FALSE(f.matches(row(1, "x")));
        EXPECT_FALSE(f.matches(row(1, "a")));
    }
}

TEST(PolicyResolve, a_missing_claim_forbids_naming_it) {
    auto p = resolve_policy(orders("tenant=eq.{tenant}"), reader({{"region", "eu"}}));
    EXPECT_TRUE(p.filters.empty());
    EXPECT_NE(p.forbidden.find("'tenant'"), std::string::npos) << p.forbidden;
    EXPECT_NE(p.forbidden.find("public.orders"), std::string::npos) << p.forbidden;
    access anonymous;
    anonymous.topics = {"*"};
    auto a = resolve_policy(orders("tenant=eq.{tenant}"), anonymous);
    EXPECT_NE(a.forbidden.find("'tenant'"), std::string::npos) << a.forbidden;
    EXPECT_NE(a.forbidden.find("anonymous"), std::string::npos) << a.forbidden;
    // A literal-only policy names no claim: anonymous readers get its rows.
    EXPECT_EQ(resolve_policy(orders("amount=gt.0"), anonymous).forbidden, "");
}

TEST(PolicyResolve, object_array_and_null_claims_forbid) {
    for (json v : {json::object({{"a", 1}}), json::array({"a", "b"}), json(nullptr)}) {
        SCOPED_TRACE(v.dump());
        auto p = resolve_policy(orders("tenant=in.({tenant})"), reader({{"tenant", v}}));
        EXPECT_TRUE(p.filters.empty());
        EXPECT_NE(p.forbidden.find("claim 'tenant'"), std::string::npos) << p.forbidden;
        EXPECT_NE(p.forbidden.find("string, number or boolean"), std::string::npos) << p.forbidden;
    }
}

TEST(PolicyResolve, a_claim_that_is_not_the_columns_type_forbids_rather_than_widens) {
    auto p = resolve_policy(orders("id=eq.{tenant}"), reader({{"tenant", "acme"}}));
    EXPECT_TRUE(p.filters.empty());
    EXPECT_NE(p.forbidden.find("does not apply"), std::string::npos) << p.forbidden;
    // A policy on a column the topic no longer exposes (renamed since attach) fails closed too.
    EXPECT_NE(resolve_policy(orders("gone=eq.{tenant}"), reader({{"tenant", "a"}})).forbidden, "");
    EXPECT_NE(resolve_policy(orders("flag=is.{tenant}"), reader({{"tenant", "null"}})).forbidden, "");
}

TEST(PolicyResolve, terms_split_at_ampersands) {
    EXPECT_TRUE(policy_terms("").empty());
    EXPECT_EQ(policy_terms("a=eq.1"), std::vector<std::string>{"a=eq.1"});
    EXPECT_EQ(policy_terms("a=eq.1&b=in.(x,y)"), (std::vector<std::string>{"a=eq.1", "b=in.(x,y)"}));
}

TEST(PolicyResolve, verified_tokens_carry_their_claims) {
    std::string t = sign_jwt(json{{"sub", "u"}, {"topics", {"*"}}, {"tenant", "acme"}, {"n", 7}}, "s3cret");
    access a = verify_jwt(t, "s3cret", 0);
    EXPECT_EQ(a.claims["tenant"], "acme");
    EXPECT_EQ(number_text(a.claims["n"]), "7");
    EXPECT_EQ(resolve_policy(orders("tenant=eq.{tenant}"), a).filters, std::vector<std::string>{"tenant=eq.acme"});
}

// ---- the hub ANDs the policy into every subscription

struct recorder : client {
    std::vector<frame> got;
    void send(frame f, frame_kind, uint64_t, frame_stamp) override { got.push_back(std::move(f)); }
    void resynced() override {}
    wire_format format() const override { return wire_format::json; }
    std::vector<json> of_type(const std::string& type) const {
        std::vector<json> out;
        for (auto& f : got)
            if (auto m = json::parse(*f); m["type"] == type) out.push_back(m);
        return out;
    }
    std::string bytes() const {
        std::string all;
        for (auto& f : got) all += *f;
        return all;
    }
};

struct PolicyHub : ::testing::Test {
    std::unique_ptr<hub> h;
    void SetUp() override {
        hub::hooks hk;
        hk.load_topic = [](const std::string&) {};
        hk.now_ms = [] { return int64_t(0); };
        h = std::make_unique<hub>(hk, hub_limits{});
        h->set_topics({orders("tenant=eq.{tenant}")});
    }
    std::shared_ptr<recorder> subscribed(conn_id id, access who, std::vector<std::string> filter = {}) {
        auto c = std::make_shared<recorder>();
        h->connect(id, c, who);
        subscribe_request r;
        r.ref = "r";
        r.topic = "public.orders";
        r.filter = std::move(filter);
        h->subscribe(id, r);
        return c;
    }
    void load(std::vector<json> rows) {
        topic_load l;
        l.info = orders("");  // a load's info carries no policy: the hub takes it from the attached list
        l.info.types.clear();
        l.rows = std::move(rows);
        l.snapshot = pg_snapshot::parse("100:100:");
        h->on_topic_loaded(std::move(l));
    }
    void commit(int64_t pos, std::vector<change> cs) {
        h->on_transactions({transaction{pos, "2026-12-03T10:00:00.000000Z", uint64_t(200 + pos), std::move(cs)}});
    }
};

TEST_F(PolicyHub, tenants_see_only_their_rows_and_a_moved_row_is_remove_and_add) {
    auto a = subscribed(1, reader({{"tenant", "A-marker"}}));
    auto b = subscribed(2, reader({{"tenant", "B-marker"}}));
    access root = reader(json::object());
    root.admin = true;
    auto admin = subscribed(3, root);
    load({row(1, "A-marker"), row(2, "B-marker")});
    commit(1, {change{"public.orders", op_kind::insert, json(), row(3, "B-marker")}});
    commit(2, {change{"public.orders", op_kind::update, row(1, "A-marker"), row(1, "B-marker")}});

    ASSERT_EQ(a->of_type("snapshot").size(), 1u);
    EXPECT_EQ(a->of_type("snapshot")[0]["rows"], json({{"1", row(1, "A-marker")}}));
    auto ap = a->of_type("patch");
    ASSERT_EQ(ap.size(), 1u);  // B's insert sends A nothing
    EXPECT_EQ(ap[0]["patch"], json::parse(R"([{"op":"remove","path":"/1"}])"));
    EXPECT_EQ(a->bytes().find("B-marker"), std::string::npos) << a->bytes();

    EXPECT_EQ(b->of_type("snapshot")[0]["rows"], json({{"2", row(2, "B-marker")}}));
    auto bp = b->of_type("patch");
    ASSERT_EQ(bp.size(), 2u);
    EXPECT_EQ(bp[1]["patch"][0]["op"], "add");
    EXPECT_EQ(bp[1]["patch"][0]["path"], "/1");
    EXPECT_EQ(b->bytes().find("A-marker"), std::string::npos) << b->bytes();

    EXPECT_EQ(admin->of_type("snapshot")[0]["rows"].size(), 2u);
    EXPECT_EQ(admin->of_type("patch").size(), 2u);
}

TEST_F(PolicyHub, a_client_filter_cannot_widen_the_policy) {
    auto a = subscribed(1, reader({{"tenant", "A"}}), {"tenant=eq.B"});
    load({row(1, "A"), row(2, "B")});
    EXPECT_EQ(a->of_type("snapshot")[0]["rows"], json::object());
}

TEST_F(PolicyHub, a_token_without_the_claim_is_forbidden_naming_it) {
    auto c = subscribed(1, reader({{"region", "eu"}}));
    auto errors = c->of_type("error");
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0]["code"], "forbidden");
    EXPECT_NE(errors[0]["message"].get<std::string>().find("'tenant'"), std::string::npos);
    subscribe_request r;
    r.topic = "public.orders";
    ASSERT_TRUE(h->refusal(r, reader(json::object())));  // SSE's up-front check says the same
    EXPECT_EQ(h->refusal(r, reader(json::object()))->code, "forbidden");
    EXPECT_FALSE(h->refusal(r, reader({{"tenant", "A"}})));
}

TEST_F(PolicyHub, callers_whose_policies_resolve_alike_share_frames) {
    auto a1 = subscribed(1, reader({{"tenant", "A"}}));
    auto a2 = subscribed(2, reader({{"tenant", "A"}, {"other", 1}}));
    load({row(1, "A")});
    commit(1, {change{"public.orders", op_kind::insert, json(), row(2, "A")}});
    ASSERT_FALSE(a1->got.empty());
    EXPECT_EQ(a1->got.back().get(), a2->got.back().get());  // one shape, one frame
}

TEST_F(PolicyHub, a_changed_policy_ends_the_subscriptions_made_under_the_old_one) {
    auto a = subscribed(1, reader({{"tenant", "A"}}));
    load({row(1, "A")});
    h->set_topics({orders("")});
    auto errors = a->of_type("error");
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0]["code"], "forbidden");
    commit(1, {change{"public.orders", op_kind::insert, json(), row(2, "B")}});
    EXPECT_TRUE(a->of_type("patch").empty());
}

TEST_F(PolicyHub, admins_see_the_policy_in_the_topic_list_and_readers_do_not) {
    access root = reader(json::object());
    root.admin = true;
    EXPECT_EQ(h->topics_json(root)[0]["policy"], "tenant=eq.{tenant}");
    EXPECT_FALSE(h->topics_json(reader({{"tenant", "A"}}))[0].contains("policy"));
    EXPECT_TRUE(h->topics_json(reader({{"region", "eu"}})).empty());  // reads nothing of it: not listed
}

}  // namespace
}  // namespace pglive
