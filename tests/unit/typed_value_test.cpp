// typed_value_test.cpp — guards core/typed_value: type names → kinds, and values read and compared as PostgreSQL compares them (PROTOCOL §5, "Values on the wire").
#include <gtest/gtest.h>

#include "core/exact_json.h"
#include "core/typed_value.h"

namespace pglive {
namespace {

TEST(typed_value_kind, postgresql_type_names_map_to_their_kinds) {
    struct { const char* type; value_kind kind; } cases[] = {
        {"smallint", value_kind::integer},
        {"integer", value_kind::integer},
        {"bigint", value_kind::integer},
        {"numeric", value_kind::numeric},
        {"numeric(10,2)", value_kind::numeric},
        {"real", value_kind::float4},
        {"double precision", value_kind::float8},
        {"boolean", value_kind::boolean},
        {"text", value_kind::text},
        {"character varying", value_kind::text},
        {"character varying(20)", value_kind::text},
        {"uuid", value_kind::uuid},
        {"timestamp with time zone", value_kind::timestamptz},
        {"timestamp without time zone", value_kind::timestamp},
        {"date", value_kind::date},
        {"time without time zone", value_kind::time},
        {"jsonb", value_kind::other},
        {"interval", value_kind::other},
        {"bytea", value_kind::other},
        {"integer[]", value_kind::other},
    };
    for (auto& c : cases) EXPECT_EQ(kind_of_type(c.type), c.kind) << c.type << " → " << to_string(kind_of_type(c.type));
    EXPECT_TRUE(is_json_type("json"));
    EXPECT_TRUE(is_json_type("jsonb"));
    EXPECT_FALSE(is_json_type("jsonb[]"));
    EXPECT_FALSE(is_json_type("text"));
}

// Row values (as PostgreSQL writes them, numbers exact) compared in a column of `type`.
TEST(typed_value_compare, row_values_compare_as_postgresql_does_for_the_type) {
    struct { const char* type; const char* a; const char* b; int want; } cases[] = {
        // integers of any width, exactly (beyond 2^53 a double would say 0)
        {"bigint", "9007199254740993", "9007199254740992", 1},
        {"bigint", "-9223372036854775808", "9223372036854775807", -1},
        {"integer", "2", "10", -1},
        // numeric: exact decimals, scale ignored, NaN above +Infinity above every number
        {"numeric", "1.5", "1.50", 0},
        {"numeric", "0.1", "0.09", 1},
        {"numeric", "-0.5", "-0.25", -1},
        {"numeric", "123456789.123456789", "123456789.123456788", 1},
        {"numeric", "0.0000000000000000000000000001", "0", 1},
        {"numeric", "100000000000000000000000000000000000000000", "99999999999999999999999999999999999999999", 1},
        {"numeric", "\"NaN\"", "\"Infinity\"", 1},
        {"numeric", "\"NaN\"", "\"NaN\"", 0},
        {"numeric", "\"-Infinity\"", "-100000000000000000000000000000000000000000", -1},
        {"numeric", "\"Infinity\"", "100000000000000000000000000000000000000000", 1},
        // floats as their type: 16777217 is not a real, 0.10000000000000001 is the double 0.1
        {"real", "16777216", "16777217", 0},
        {"double precision", "0.1", "0.10000000000000001", 0},
        {"double precision", "16777216", "16777217", -1},
        {"double precision", "\"NaN\"", "\"Infinity\"", 1},
        {"double precision", "\"-Infinity\"", "-1e308", -1},
        {"double precision", "0", "-0", 0},
        // booleans, text in byte order (the C collation), padding compared
        {"boolean", "false", "true", -1},
        {"text", "\"B\"", "\"a\"", -1},
        {"text", "\"\u00e9\"", "\"z\"", 1},
        {"text", "\"ab\"", "\"ab \"", -1},
        {"text", "\"10\"", "\"9\"", -1},
        // timestamptz as instants (UTC on the wire), BC and infinities
        {"timestamp with time zone", "\"2026-12-02T12:00:00.5+00:00\"", "\"2026-12-02T12:00:00+00:00\"", 1},
        {"timestamp with time zone", "\"infinity\"", "\"2026-12-02T12:00:00+00:00\"", 1},
        {"timestamp with time zone", "\"-infinity\"", "\"0044-03-15T10:00:00+00:00 BC\"", -1},
        {"timestamp with time zone", "\"0044-03-15T10:00:00+00:00 BC\"", "\"0001-01-01T00:00:00+00:00\"", -1},
        {"timestamp with time zone", "\"0045-03-15T10:00:00+00:00 BC\"", "\"0044-03-15T10:00:00+00:00 BC\"", -1},
        {"timestamp without time zone", "\"2026-12-02T12:00:00.5\"", "\"2026-12-02T12:00:00\"", 1},
        {"timestamp without time zone", "\"2026-12-02T12:00:00\"", "\"2026-12-02T09:00:00\"", 1},
        {"date", "\"2026-12-02\"", "\"2026-11-30\"", 1},
        {"date", "\"0044-03-15 BC\"", "\"0001-01-01\"", -1},
        {"date", "\"infinity\"", "\"9999-12-31\"", 1},
        {"time without time zone", "\"12:34:56.789\"", "\"12:34:56.79\"", -1},
        {"time without time zone", "\"23:59:59\"", "\"00:00:00\"", 1},
        // other types by their JSON text (interval not by length: documented)
        {"jsonb", R"({"a":1})", R"({"a":2})", -1},
        {"jsonb", R"({"a":1.50})", R"({"a":1.50})", 0},
        {"interval", "\"1 day\"", "\"23:00:00\"", -1},
    };
    for (auto& c : cases) {
        json a = parse_exact(c.a), b = parse_exact(c.b);
        value_kind k = kind_of_type(c.type);
        EXPECT_EQ(sign_of(compare_values(k, a, b)), c.want) << c.type << ": " << c.a << " vs " << c.b;
        EXPECT_EQ(sign_of(compare_values(k, b, a)), -c.want) << c.type << ": " << c.b << " vs " << c.a << " (reversed)";
    }
}

// Filter values are text: they read as the column's kind (or not), then compare with row values.
TEST(typed_value_read, filter_texts_read_as_the_columns_kind) {
    struct { const char* type; const char* text; bool reads; } cases[] = {
        {"bigint", "12", true},
        {"bigint", "-9223372036854775808", true},
        {"bigint", "4.5", false},
        {"bigint", "abc", false},
        {"bigint", "", false},
        {"numeric", "1.50", true},
        {"numeric", "NaN", true},
        {"numeric", "-Infinity", true},
        {"numeric", "1.2.3", false},
        {"double precision", "Infinity", true},
        {"double precision", "x1", false},
        {"boolean", "true", true},
        {"boolean", "yes", true},
        {"boolean", "off", true},
        {"boolean", "maybe", false},
        {"uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", true},
        {"uuid", "not-a-uuid", false},
        {"timestamp with time zone", "2026-12-02T12:00:00Z", true},
        {"timestamp with time zone", "2026-12-02 12:00", true},
        {"timestamp with time zone", "yesterday-ish", false},
        {"date", "2026-12-02", true},
        {"date", "2026-13-02", false},
        {"time without time zone", "12:34", true},
        {"time without time zone", "25:00:00", false},
        {"text", "anything at all", true},
    };
    for (auto& c : cases) {
        typed_value v;
        EXPECT_EQ(read_text(kind_of_type(c.type), c.text, v), c.reads) << c.type << ": '" << c.text << "'";
    }
}

TEST(typed_value_read, equal_values_written_differently_compare_equal) {
    struct { const char* type; const char* a; const char* b; } cases[] = {
        {"bigint", "0042", "42"},
        {"numeric", "1.5", "1.500"},
        {"numeric", "NaN", "NaN"},
        {"boolean", "yes", "t"},
        {"boolean", "0", "false"},
        {"uuid", "{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
        {"uuid", "A0EEBC999C0B4EF8BB6D6BB9BD380A11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
        {"timestamp with time zone", "2026-12-02T17:30:00+05:30", "2026-12-02T12:00:00Z"},
        {"timestamp with time zone", "2026-12-02 12:00", "2026-12-02T12:00:00+00:00"},
        {"timestamp with time zone", "2026-12-02T12:00:00.0000004Z", "2026-12-02T12:00:00Z"},  // rounded to µs
        {"timestamp without time zone", "2026-12-02T12:00:00+05:00", "2026-12-02T12:00:00"},  // offset ignored
    };
    for (auto& c : cases) {
        value_kind k = kind_of_type(c.type);
        typed_value a, b;
        ASSERT_TRUE(read_text(k, c.a, a)) << c.type << ": '" << c.a << "'";
        ASSERT_TRUE(read_text(k, c.b, b)) << c.type << ": '" << c.b << "'";
        EXPECT_EQ(compare_typed(k, a, b), 0) << c.type << ": '" << c.a << "' vs '" << c.b << "'";
    }
    // And a pair that differs, so the loop above can tell.
    typed_value x, y;
    ASSERT_TRUE(read_text(value_kind::timestamptz, "2026-12-02T12:00:00+01:00", x));
    ASSERT_TRUE(read_text(value_kind::timestamptz, "2026-12-02T12:00:00Z", y));
    EXPECT_EQ(sign_of(compare_typed(value_kind::timestamptz, x, y)), -1);  // 11:00 UTC
}

// Without a type, the JSON value decides: numbers exactly, booleans, else text.
TEST(typed_value_compare, an_untyped_column_goes_by_the_json_value) {
    EXPECT_EQ(inferred(json(1)), value_kind::numeric);
    EXPECT_EQ(inferred(exact_number("1.50")), value_kind::numeric);
    EXPECT_EQ(inferred(json(true)), value_kind::boolean);
    EXPECT_EQ(inferred(json("x")), value_kind::other);  // `other` reads a string as its text
    EXPECT_EQ(inferred(json::parse(R"({"a":1})")), value_kind::other);
    EXPECT_EQ(sign_of(compare_values(value_kind::unknown, json(10), json(9))), 1);
    EXPECT_EQ(sign_of(compare_values(value_kind::unknown, json("10"), json("9"))), -1);
    EXPECT_EQ(compare_values(value_kind::unknown, parse_exact("1.5"), parse_exact("1.50")), 0);
    EXPECT_EQ(sign_of(compare_values(value_kind::unknown, parse_exact("9007199254740993"), parse_exact("9007199254740992.5"))), 1);
}

// A row value that does not read as the column's kind sorts after those that do.
TEST(typed_value_compare, a_value_not_of_the_kind_sorts_after_those_that_are) {
    EXPECT_EQ(sign_of(compare_values(value_kind::integer, json("not a number"), json(5))), 1);
    EXPECT_EQ(sign_of(compare_values(value_kind::integer, json(5), json("not a number"))), -1);
    EXPECT_EQ(sign_of(compare_values(value_kind::date, json("b"), json("a"))), 1);  // both unread: by text
}

}  // namespace
}  // namespace pglive
