// values_test.cpp — exact values: the parser/serializer round trip, and filters/orders comparing
// as PostgreSQL does for the column's type (issue 9, finding 6).
#include <gtest/gtest.h>

#include <set>

#include "core/exact_json.h"
#include "core/filter.h"
#include "core/key.h"
#include "core/patch.h"
#include "core/protocol.h"
#include "hub/hub.h"
#include "net/poll_answer.h"

namespace pglive {
namespace {

// ------------------------------------------------------------------ parse / dump

TEST(exact_json, every_extreme_literal_round_trips_byte_for_byte) {
    // What PostgreSQL 15's to_jsonb writes (docs/PROTOCOL.md, the table of types).
    const std::string tiny = "0." + std::string(129, '0') + "1";  // 1e-130::numeric
    const std::string huge = "1" + std::string(400, '0');          // 1e400::numeric: beyond double
    const std::string texts[] = {
        R"({"id":9223372036854775807,"min":-9223372036854775808,"u":18446744073709551615})",
        R"({"a":9007199254740993,"b":123456789.123456789,"c":12345678901234567891.5})",
        R"({"d":1.50,"e":)" + tiny + R"(,"f":)" + huge + R"(,"g":-0,"h":1E+400,"i":-2.5e-3})",
        R"({"j":12345678901234567890123456789012345.123456789012345,"k":18446744073709551616})",
        R"({"inf":"Infinity","nan":"NaN","ninf":"-Infinity","t":"2026-12-02T12:00:00+00:00"})",  // keys sorted: nlohmann's order
        R"([1,[2,[3.000,{}]],[],null,true,false,"a\"b\\c\n\u0001é"])",
    };
    for (auto& t : texts) {
        json v = parse_exact(t);
        EXPECT_EQ(dump_exact(v), t);
    }
    json v = parse_exact(texts[1]);
    EXPECT_TRUE(v["a"].is_number_unsigned());  // integers that fit stay nlohmann integers
    EXPECT_TRUE(is_exact_number(v["b"]));
    EXPECT_EQ(exact_literal(v["b"]), "123456789.123456789");
    EXPECT_EQ(number_text(v["a"]), "9007199254740993");
}

TEST(exact_json, whitespace_and_escapes_read_like_nlohmann) {
    std::string t = " { \"a\" : [ 1 , 2.5 ] , \"b\" : \"\\u00e9\\ud83d\\ude00\\/\" } ";
    json v = parse_exact(t);
    EXPECT_EQ(dump_exact(v), R"({"a":[1,2.5],"b":"é😀/"})");
    // Without exact numbers the text is exactly nlohmann's.
    json plain = json::parse(R"({"x":[1,-2,"q\t\u001f"],"y":{"z":null}})");
    EXPECT_EQ(dump_exact(plain), plain.dump());
}

TEST(exact_json, bad_text_is_refused_without_quoting_it) {
    for (std::string t : {"", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "\"\x01\"", "\"\xff\"", "nul", "1 2",
                          "\"\\ud800\"", "{\"a\":1}x"}) {
        try {
            parse_exact(t);
            ADD_FAILURE() << "accepted: " << t;
        } catch (const exact_json_error& e) {
            EXPECT_NE(std::string(e.what()).find("invalid JSON at byte"), std::string::npos);
        }
    }
    try {
        parse_exact(R"({"secret":"hunter2", oops})");
        ADD_FAILURE();
    } catch (const exact_json_error& e) {
        EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
    }
}

TEST(exact_json, only_valid_literals_are_written_raw) {
    EXPECT_TRUE(valid_number_literal("-12.5e+7"));
    for (auto s : {"", "1.", ".5", "+1", "1e", "0x10", "1,2", "1]", "NaN", "1 ", "]"}) EXPECT_FALSE(valid_number_literal(s)) << s;
    EXPECT_THROW(exact_number("1}, {\"x\":2"), std::invalid_argument);
    // A binary value that is not an exact number (only CBOR could make one) is never spliced.
    json forged = json::binary({'1', '}', ','}, exact_number_subtype);
    EXPECT_EQ(dump_exact(json{{"v", forged}}), R"({"v":null})");
    // A client's string that looks like a sentinel is just a string.
    json s = parse_exact(R"({"v":"\u0000#1"})");
    EXPECT_EQ(dump_exact(s), R"({"v":"\u0000#1"})");
}

TEST(exact_json, equality_diff_keys_and_frames_keep_exact_numbers) {
    json a = parse_exact(R"({"id":1,"amount":123456789.123456789})");
    json b = parse_exact(R"({"id":1,"amount":123456789.123456780})");
    json c = parse_exact(R"({"id":1,"amount":123456789.123456789})");
    EXPECT_EQ(a, c);
    EXPECT_NE(a, b);  // a double would call them equal
    json ops = json::array();
    append_row_ops(ops, "1", a, "1", b);
    EXPECT_EQ(dump_exact(ops), R"([{"op":"replace","path":"/1/amount","value":123456789.123456780}])");
    EXPECT_TRUE(json::diff(a, c).empty());
    EXPECT_EQ(json::diff(a, b).size(), 1u);
    // Keys: an exact number's literal, also inside a composite key.
    json k = parse_exact(R"({"n":12345678901234567891.5,"r":"eu"})");
    EXPECT_EQ(row_key(k, {"n"}), "12345678901234567891.5");
    EXPECT_EQ(row_key(k, {"n", "r"}), R"([12345678901234567891.5,"eu"])");
    // The frames that carry rows.
    json rows = json::object();
    rows["1"] = a;
    EXPECT_EQ(snapshot_message("s", "public.t", 7, rows),
              R"({"pos":"7","rows":{"1":{"amount":123456789.123456789,"id":1}},"sub":"s","topic":"public.t","type":"snapshot"})");
    EXPECT_NE(patch_message("s", "public.t", 8, "ts", ops).find("123456789.123456780"), std::string::npos);
    // Maps keyed by exact numbers (update pairing in outbox.cpp) order them consistently.
    std::map<json, int> m;
    m[a["amount"]] = 1;
    m[b["amount"]] = 2;
    EXPECT_EQ(m.size(), 2u);
    EXPECT_EQ(m.at(c["amount"]), 1);
}

// ------------------------------------------------------------------ typed filters

const std::vector<std::string> cols = {"id", "amount", "ratio", "r4", "flag", "name", "at", "wall", "day", "tod",
                                       "u", "doc", "big"};
const std::vector<std::string> types = {"bigint",
                                        "numeric",
                                        "double precision",
                                        "real",
                                        "boolean",
                                        "text",
                                        "timestamp with time zone",
                                        "timestamp without time zone",
                                        "date",
                                        "time without time zone",
                                        "uuid",
                                        "jsonb",
                                        "numeric(40,0)"};

bool match(const std::string& expr, const std::string& row) {
    return row_filter::parse({expr}, cols, types).matches(parse_exact(row));
}

TEST(typed_filter, kinds_of_postgresql_types) {
    EXPECT_EQ(kind_of_type("smallint"), value_kind::integer);
    EXPECT_EQ(kind_of_type("numeric(10,2)"), value_kind::numeric);
    EXPECT_EQ(kind_of_type("timestamp(3) with time zone"), value_kind::timestamptz);
    EXPECT_EQ(kind_of_type("timestamp(3) without time zone"), value_kind::timestamp);
    EXPECT_EQ(kind_of_type("character varying(20)"), value_kind::text);
    EXPECT_EQ(kind_of_type("integer[]"), value_kind::other);
    EXPECT_EQ(kind_of_type("mood"), value_kind::other);
    EXPECT_EQ(kind_of_type("interval"), value_kind::other);
}

TEST(typed_filter, integers_beyond_2_pow_53_compare_exactly) {
    EXPECT_TRUE(match("id=gt.4611686018427387914", R"({"id":4611686018427387915})"));
    EXPECT_FALSE(match("id=gt.4611686018427387914", R"({"id":4611686018427387914})"));
    EXPECT_TRUE(match("id=eq.9007199254740993", R"({"id":9007199254740993})"));
    EXPECT_FALSE(match("id=eq.9007199254740993", R"({"id":9007199254740992})"));
    EXPECT_TRUE(match("id=lt.-9223372036854775807", R"({"id":-9223372036854775808})"));
    EXPECT_TRUE(match("id=in.(1,9223372036854775807)", R"({"id":9223372036854775807})"));
    EXPECT_TRUE(match("id=gt.9", R"({"id":10})"));
    // numeric(40,0): integers beyond int64, exactly.
    EXPECT_TRUE(match("big=gt.18446744073709551616", R"({"big":18446744073709551617})"));
    EXPECT_FALSE(match("big=gt.18446744073709551616", R"({"big":18446744073709551615})"));
}

TEST(typed_filter, numeric_compares_as_exact_decimals) {
    EXPECT_TRUE(match("amount=eq.123456789.123456789", R"({"amount":123456789.123456789})"));
    EXPECT_FALSE(match("amount=eq.123456789.12345679", R"({"amount":123456789.123456789})"));
    EXPECT_TRUE(match("amount=eq.1.5", R"({"amount":1.50})"));  // numeric equality, not text
    EXPECT_TRUE(match("amount=eq.1.5e0", R"({"amount":1.50})"));
    EXPECT_TRUE(match("amount=gt.12345678901234567891.4", R"({"amount":12345678901234567891.5})"));
    EXPECT_FALSE(match("amount=gt.12345678901234567891.5", R"({"amount":12345678901234567891.5})"));
    std::string tiny = "0." + std::string(129, '0') + "1", tinier = "0." + std::string(130, '0') + "1";
    EXPECT_TRUE(match("amount=gt.0", R"({"amount":)" + tiny + "}"));  // a double would say 1e-130 > 0 too…
    EXPECT_TRUE(match("amount=gt." + tinier, R"({"amount":)" + tiny + "}"));  // …but not this
    EXPECT_TRUE(match("amount=gt.1e399", R"({"amount":1)" + std::string(400, '0') + "}"));
    EXPECT_TRUE(match("amount=lt.-0.5", R"({"amount":-1})"));
    EXPECT_TRUE(match("amount=eq.0", R"({"amount":-0.000})"));
    EXPECT_TRUE(match("amount=gte.-7", R"({"amount":-7})"));
    EXPECT_FALSE(match("amount=gt.-7", R"({"amount":-7.0})"));
}

TEST(typed_filter, nan_and_infinities_order_as_in_postgresql) {
    for (const char* col : {"amount", "ratio"}) {
        std::string c = col;
        auto row = [&](const std::string& v) { return "{\"" + c + "\":" + v + "}"; };
        EXPECT_TRUE(match(c + "=eq.NaN", row(R"("NaN")")));          // NaN = NaN
        EXPECT_FALSE(match(c + "=in.(1,NaN)", row("2")));              // not every row
        EXPECT_TRUE(match(c + "=in.(1,NaN)", row(R"("NaN")")));
        EXPECT_TRUE(match(c + "=gt.Infinity", row(R"("NaN")")));     // NaN above +Infinity
        EXPECT_TRUE(match(c + "=gt.1e300", row(R"("Infinity")")));
        EXPECT_TRUE(match(c + "=lt.-1e300", row(R"("-Infinity")")));
        EXPECT_FALSE(match(c + "=gt.-1", row(R"("-Infinity")")));   // -Infinity below all
        EXPECT_TRUE(match(c + "=lt.NaN", row("5")));
        EXPECT_TRUE(match(c + "=eq.-inf", row(R"("-Infinity")")));
    }
    auto o = row_order::parse("ratio", cols, types);
    std::vector<std::string> sorted = {R"("-Infinity")", "-1e+300", "-0.5", "0", "0.1", "1e+300", R"("Infinity")", R"("NaN")"};
    for (size_t i = 0; i + 1 < sorted.size(); ++i) {
        json a = parse_exact("{\"ratio\":" + sorted[i] + "}"), b = parse_exact("{\"ratio\":" + sorted[i + 1] + "}");
        EXPECT_TRUE(o.before(a, "1", b, "2")) << sorted[i] << " < " << sorted[i + 1];
        EXPECT_FALSE(o.before(b, "2", a, "1")) << sorted[i + 1] << " > " << sorted[i];
    }
    auto on = row_order::parse("amount.desc", cols, types);
    EXPECT_TRUE(on.before(parse_exact(R"({"amount":"NaN"})"), "1", parse_exact(R"({"amount":"Infinity"})"), "2"));
    EXPECT_TRUE(on.before(parse_exact(R"({"amount":100000000000000000001})"), "1", parse_exact(R"({"amount":100000000000000000000.5})"), "2"));
}

TEST(typed_filter, floats_compare_as_their_type) {
    EXPECT_TRUE(match("ratio=eq.0.1", R"({"ratio":0.1})"));
    EXPECT_TRUE(match("ratio=eq.0.10000000000000001", R"({"ratio":0.1})"));  // the same double, as float8 says
    EXPECT_TRUE(match("r4=eq.0.1", R"({"r4":0.1})"));
    EXPECT_TRUE(match("ratio=gt.1e307", R"({"ratio":1)" + std::string(308, '0') + "}"));
}

TEST(typed_filter, timestamps_compare_as_instants) {
    // The same instant, written in UTC and as a +05:30 filter value.
    EXPECT_TRUE(match("at=eq.2026-12-02T17:30:00+05:30", R"({"at":"2026-12-02T12:00:00+00:00"})"));
    EXPECT_TRUE(match("at=eq.2026-12-02 12:00:00Z", R"({"at":"2026-12-02T12:00:00+00:00"})"));
    EXPECT_TRUE(match("at=eq.2026-12-02T12:00", R"({"at":"2026-12-02T12:00:00+00:00"})"));
    // As text "…T09:00:00+00:00" > "…T08:00:00-05:00"; as instants it is earlier.
    EXPECT_TRUE(match("at=lt.2026-12-02T08:00:00-05:00", R"({"at":"2026-12-02T09:00:00+00:00"})"));
    EXPECT_TRUE(match("at=gt.2026-12-02T12:00:00.123455Z", R"({"at":"2026-12-02T12:00:00.123456+00:00"})"));
    EXPECT_FALSE(match("at=gt.2026-12-02T12:00:00.1234564Z", R"({"at":"2026-12-02T12:00:00.123456+00:00"})"));
    EXPECT_TRUE(match("at=lt.0001-01-01T00:00:00Z", R"({"at":"0044-03-15T10:00:00+00:00 BC"})"));
    EXPECT_TRUE(match("at=gt.0045-03-15 BC", R"({"at":"0044-03-15T10:00:00+00:00 BC"})"));
    EXPECT_TRUE(match("at=lt.-infinity", R"({"at":"-infinity"})") == false);
    EXPECT_TRUE(match("at=gt.9999-12-31T23:59:59Z", R"({"at":"infinity"})"));
    EXPECT_TRUE(match("at=lt.1000-01-01", R"({"at":"-infinity"})"));
    EXPECT_TRUE(match("at=eq.infinity", R"({"at":"infinity"})"));
    EXPECT_TRUE(match("at=eq.0044-03-15T15:53:28+05:53:28 BC", R"({"at":"0044-03-15T10:00:00+00:00 BC"})"));
    // timestamp without time zone: an offset in the value is ignored, as ::timestamp does.
    EXPECT_TRUE(match("wall=eq.2026-12-02T12:00:00+05:30", R"({"wall":"2026-12-02T12:00:00"})"));
    EXPECT_TRUE(match("wall=lt.2026-12-02T12:00:00.6", R"({"wall":"2026-12-02T12:00:00.5"})"));
    EXPECT_TRUE(match("day=gt.2026-11-30", R"({"day":"2026-12-02"})"));
    EXPECT_TRUE(match("day=lt.0001-01-01", R"({"day":"0044-03-15 BC"})"));
    EXPECT_TRUE(match("day=gt.2026-12-02", R"({"day":"infinity"})"));
    EXPECT_TRUE(match("tod=gt.09:00", R"({"tod":"12:34:56.789"})"));
    auto o = row_order::parse("at", cols, types);
    EXPECT_TRUE(o.before(parse_exact(R"({"at":"-infinity"})"), "1", parse_exact(R"({"at":"0044-03-15T10:00:00+00:00 BC"})"), "2"));
    EXPECT_TRUE(o.before(parse_exact(R"({"at":"2026-12-02T09:00:00+00:00"})"), "1", parse_exact(R"({"at":"infinity"})"), "2"));
}

TEST(typed_filter, booleans_text_uuid_and_nulls) {
    EXPECT_TRUE(match("flag=eq.true", R"({"flag":true})"));
    EXPECT_TRUE(match("flag=eq.f", R"({"flag":false})"));
    EXPECT_TRUE(match("flag=lt.true", R"({"flag":false})"));  // false < true
    EXPECT_TRUE(match("name=lt.a", R"({"name":"Z"})"));       // C collation: byte order
    EXPECT_TRUE(match("name=gt.z", R"({"name":"é"})"));
    EXPECT_TRUE(match("name=eq.10", R"({"name":"10"})"));
    EXPECT_TRUE(match("u=eq.A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", R"({"u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"})"));
    EXPECT_TRUE(match("doc=eq.{\"a\":1}", R"({"doc":{"a":1}})"));
    for (std::string e : {"id=eq.1", "id=neq.1", "amount=lt.1", "at=gt.2000-01-01", "name=in.(a,b)"})
        EXPECT_FALSE(match(e, R"({"id":null,"amount":null,"at":null,"name":null})")) << e;
    EXPECT_TRUE(match("amount=is.null", R"({"amount":null})"));
    EXPECT_FALSE(match("amount=is.null", R"({"amount":0})"));
}

// In a json/jsonb column a JSON null is a value and SQL NULL is sql_null() (the capture leaves
// the column out, the hub puts sql_null() back): `is.null` matches only SQL NULL, as in PostgreSQL.
TEST(typed_filter, sql_null_and_json_null_differ_in_json_columns) {
    json sql = parse_exact(R"({"doc":1})"), value = parse_exact(R"({"doc":null})"), absent = parse_exact("{}");
    sql["doc"] = sql_null();
    auto f = row_filter::parse({"doc=is.null"}, cols, types);
    EXPECT_TRUE(f.matches(sql));
    EXPECT_TRUE(f.matches(absent));
    EXPECT_FALSE(f.matches(value));
    auto g = row_filter::parse({"doc=eq.null"}, cols, types);  // 'null'::jsonb = 'null'::jsonb
    EXPECT_TRUE(g.matches(value));
    EXPECT_FALSE(g.matches(sql));
    EXPECT_FALSE(row_filter::parse({"doc=neq.null"}, cols, types).matches(sql));
    // Outside json columns a JSON null is SQL NULL, as before.
    EXPECT_TRUE(match("amount=is.null", R"({"amount":null})"));
    // Written as null; orders put SQL NULL last (asc) and the JSON null among the values.
    EXPECT_EQ(dump_exact(sql), R"({"doc":null})");
    auto o = row_order::parse("doc.asc", cols, types);
    EXPECT_TRUE(o.before(value, "1", sql, "2"));
    EXPECT_FALSE(o.before(sql, "2", value, "1"));
    json with = parse_exact(R"({"id":1})");
    restore_sql_nulls(with, {"doc"});
    EXPECT_TRUE(is_sql_null(with["doc"]));
    restore_sql_nulls(value, {"doc"});
    EXPECT_TRUE(value["doc"].is_null());  // present values stay
}

TEST(typed_filter, a_value_not_of_the_columns_type_is_a_filter_error) {
    const std::pair<const char*, const char*> cases[] = {
        {"id=gt.4.5", "gt needs an integer for column id (bigint), not '4.5'"},
        {"id=eq.x", "eq needs an integer for column id (bigint)"},
        {"id=eq.9223372036854775808", "an integer"},
        {"amount=lt.abc", "a number (or NaN, Infinity, -Infinity) for column amount (numeric)"},
        {"ratio=eq.1e", "for column ratio (double precision)"},
        {"at=gt.yesterday", "an ISO 8601 timestamp"},
        {"at=gt.2026-02-30", "an ISO 8601 timestamp"},
        {"day=eq.2026-13-01", "a date like"},
        {"flag=eq.maybe", "true or false"},
        {"u=eq.nope", "a UUID"},
        {"tod=gt.9:00", "a time like 10:00:00"},
        {"id=in.(1,two)", "not 'two'"},
        {"amount=is.true", "needs a boolean column"},
    };
    for (auto& [expr, says] : cases) {
        try {
            row_filter::parse({expr}, cols, types);
            ADD_FAILURE() << expr << " was accepted";
        } catch (const filter_error& e) {
            std::string what = e.what();
            EXPECT_NE(what.find(says), std::string::npos) << what;
            EXPECT_NE(what.find(std::string("filter '") + expr + "'"), std::string::npos) << what;
        }
    }
}

TEST(typed_filter, untyped_columns_still_compare_numbers_exactly) {
    std::vector<std::string> c = {"id"};
    auto f = row_filter::parse({"id=eq.9007199254740993"}, c);
    EXPECT_TRUE(f.matches(parse_exact(R"({"id":9007199254740993})")));
    EXPECT_FALSE(f.matches(parse_exact(R"({"id":9007199254740992})")));
    auto g = row_filter::parse({"id=gt.123456789.12345678"}, c);
    EXPECT_TRUE(g.matches(parse_exact(R"({"id":123456789.123456789})")));
    // Integer keys of any length break ties numerically.
    row_order o;
    EXPECT_TRUE(o.before(json::object(), "999999999999999999", json::object(), "9223372036854775807"));
    EXPECT_TRUE(o.before(json::object(), "-9223372036854775808", json::object(), "-5"));
}


// ------------------------------------------------------------------ hub

struct text_client : client {
    std::vector<std::string> texts;
    void send(frame f, frame_kind, uint64_t, frame_stamp) override { texts.push_back(*f); }
    void resynced() override {}
    wire_format format() const override { return wire_format::json; }
};

access everyone_reads() {
    access a;
    a.topics = {"*"};
    return a;
}

// A recording client connected as `id`, allowed to read every topic.
std::shared_ptr<text_client> connect_reader(hub& h, conn_id id) {
    auto c = std::make_shared<text_client>();
    h.connect(id, c, everyone_reads());
    return c;
}

// Row images leave a SQL NULL json/jsonb column out (capture and load); the hub puts SQL NULL
// back, so `is.null` sees only those rows, and the wire shows null for both.
TEST(values_hub, a_json_column_left_out_of_a_row_image_is_sql_null) {
    hub::hooks hk;
    hk.load_topic = [](const std::string&) {};
    hub h(hk);
    h.set_topics({topic_info{"public.j", {"id"}, {"id", "doc"}, {"integer", "jsonb"}}});
    auto nulls = connect_reader(h, 1);
    subscribe_request r;
    r.topic = "public.j";
    r.sub = "n";
    r.filter = {"doc=is.null"};
    h.subscribe(1, r);
    topic_load ld;
    ld.info = topic_info{"public.j", {"id"}, {"id", "doc"}};
    ld.snapshot = pg_snapshot::parse("100:100:");
    ld.rows = {parse_exact(R"({"id":1})"), parse_exact(R"({"id":2,"doc":null})")};
    h.on_topic_loaded(ld);
    ASSERT_EQ(nulls->texts.size(), 2u);
    EXPECT_EQ(nulls->texts[1], R"({"pos":"0","rows":{"1":{"doc":null,"id":1}},"sub":"n","topic":"public.j","type":"snapshot"})");
    // A JSON null inserted: not for is.null; a SQL NULL (left out): added; 2 set to SQL NULL: added.
    transaction t{1, "2026-12-02T12:00:00.000000Z", 200, {}};
    t.changes = {change{"public.j", op_kind::insert, json(), parse_exact(R"({"id":3,"doc":null})")},
                 change{"public.j", op_kind::insert, json(), parse_exact(R"({"id":4})")},
                 change{"public.j", op_kind::update, parse_exact(R"({"id":2,"doc":null})"), parse_exact(R"({"id":2})")},
                 change{"public.j", op_kind::update, parse_exact(R"({"id":1})"), parse_exact(R"({"id":1,"doc":{"a":1}})")}};
    h.on_transactions({t});
    ASSERT_EQ(nulls->texts.size(), 3u);
    json p = json::parse(nulls->texts[2]);
    std::set<std::string> ops;
    for (auto& op : p["patch"]) ops.insert(op["op"].get<std::string>() + " " + op["path"].get<std::string>());
    EXPECT_EQ(ops, (std::set<std::string>{"add /4", "add /2", "remove /1"})) << nulls->texts[2];
    EXPECT_NE(nulls->texts[2].find(R"({"doc":null,"id":4})"), std::string::npos) << nulls->texts[2];
}

// An undecodable change that arrives while the topic loads, and that the load's snapshot does
// not contain, cannot be applied: the topic is read again rather than served without it.
TEST(values_hub, an_undecodable_change_during_a_load_the_rows_miss_reads_again) {
    int loads = 0;
    hub::hooks hk;
    hk.load_topic = [&](const std::string&) { ++loads; };
    hub h(hk);
    h.set_topics({topic_info{"public.v", {"id"}, {"id"}, {"bigint"}}});
    auto c = connect_reader(h, 1);
    subscribe_request r;
    r.topic = "public.v";
    h.subscribe(1, r);
    ASSERT_EQ(loads, 1);
    transaction t{1, "2026-12-02T12:00:00.000000Z", 300, {}};
    t.undecodable = {"public.v"};
    h.on_transactions({t});
    topic_load ld;
    ld.info = topic_info{"public.v", {"id"}, {"id"}};
    ld.snapshot = pg_snapshot::parse("300:300:");  // xid 300 not visible: the rows miss it
    ld.rows = {parse_exact(R"({"id":1})")};
    h.on_topic_loaded(ld);
    EXPECT_EQ(loads, 2);
    for (auto& text : c->texts) EXPECT_EQ(text.find(R"("type":"snapshot")"), std::string::npos) << text;
    ld.position = ld.read_position = 1;
    ld.snapshot = pg_snapshot::parse("301:301:");
    h.on_topic_loaded(ld);
    EXPECT_NE(c->texts.back().find(R"("type":"snapshot")"), std::string::npos) << c->texts.back();
}

TEST(values_hub, typed_filters_exact_frames_and_undecodable_changes) {
    std::vector<std::string> loads;
    hub::hooks hk;
    hk.load_topic = [&](const std::string& t) { loads.push_back(t); };
    hub h(hk);
    topic_info info{"public.v", {"id"}, {"id", "n"}, {"bigint", "numeric"}};
    h.set_topics({info});
    auto c = std::make_shared<text_client>();
    access everyone;
    everyone.topics = {"*"};
    h.connect(1, c, everyone);
    subscribe_request r;
    r.topic = "public.v";
    r.filter = {"id=gt.4611686018427387914"};
    h.subscribe(1, r);
    ASSERT_EQ(loads.size(), 1u);
    topic_load ld;
    ld.info = topic_info{"public.v", {"id"}, {"id", "n"}};  // a load's info without types
    ld.snapshot = pg_snapshot::parse("100:100:");
    ld.rows = {parse_exact(R"({"id":4611686018427387914,"n":1})"),
               parse_exact(R"({"id":4611686018427387915,"n":12345678901234567891.5})")};
    h.on_topic_loaded(ld);
    ASSERT_EQ(c->texts.size(), 2u);
    EXPECT_EQ(c->texts[1], R"({"pos":"0","rows":{"4611686018427387915":{"id":4611686018427387915,"n":12345678901234567891.5}},"sub":"public.v","topic":"public.v","type":"snapshot"})");
    // An undecodable change: an error naming topic and position, then a reload and a fresh snapshot.
    transaction t{1, "2026-12-02T12:00:00.000000Z", 200, {}};
    t.undecodable = {"public.v"};
    h.on_transactions({t});
    EXPECT_EQ(h.stats().undecodable_changes, 1u);
    ASSERT_EQ(c->texts.size(), 3u);
    json err = json::parse(c->texts[2]);
    EXPECT_EQ(err["type"], "error");
    EXPECT_EQ(err["code"], "undecodable_change");
    EXPECT_NE(err["message"].get<std::string>().find("public.v at position 1"), std::string::npos);
    ASSERT_EQ(loads.size(), 2u);
    ld.position = 1;
    h.on_topic_loaded(ld);
    ASSERT_EQ(c->texts.size(), 4u);
    EXPECT_NE(c->texts[3].find(R"("type":"snapshot")"), std::string::npos);
    // REST rows: exact bytes too.
    struct rows_client : client {  // a REST rows request is a hub client of its own (net/poll_session)
        poll_exchange ex{poll_exchange::kind::rows, "public.v", std::nullopt};
        std::string body;
        void send(frame f, frame_kind, uint64_t, frame_stamp) override {
            if (ex.take(*f) == poll_exchange::step::answer) body = ex.answer().body;
        }
        void resynced() override {}
        wire_format format() const override { return wire_format::poll; }
    };
    auto rows = std::make_shared<rows_client>();
    h.connect(2, rows, everyone);
    r.filter = {"n=gt.12345678901234567891.4"};
    h.subscribe(2, r);
    std::string body = rows->body;
    EXPECT_EQ(body, R"({"pos":"1","rows":{"4611686018427387915":{"id":4611686018427387915,"n":12345678901234567891.5}}})");
}

}  // namespace
}  // namespace pglive
