// fuzz_regressions_test.cpp — what the fuzz targets (fuzz/) found, pinned as unit tests. Each
// input is also in fuzz/corpus/<target>/ so the fuzzers start from it.
#include <gtest/gtest.h>

#include "core/filter.h"
#include "core/jwt.h"
#include "core/protocol.h"

namespace pglive {
namespace {

// ws_message: a 19-digit `since` above INT64_MAX made std::stoll throw std::out_of_range, which
// ws_session answered as an internal error instead of bad_request.
TEST(fuzz_regressions, since_beyond_int64_is_a_bad_request) {
    for (const char* since : {"9999999999999999999", "9223372036854775808", "00000000000000000000000000000009999999999999999999"}) {
        std::string text = std::string(R"({"op":"subscribe","ref":"9","topic":"t","since":")") + since + "\"}";
        try {
            parse_client_request(text);
            ADD_FAILURE() << text << " was accepted";
        } catch (const protocol_error& e) {
            EXPECT_EQ(e.code, error_code::bad_request);
            EXPECT_NE(std::string(e.what()).find("'since' must be a position"), std::string::npos) << e.what();
        }
    }
    auto r = std::get<subscribe_request>(parse_client_request(R"({"op":"subscribe","topic":"t","since":"9223372036854775807"})"));
    EXPECT_EQ(r.since, INT64_MAX);
    r = std::get<subscribe_request>(parse_client_request(R"({"op":"subscribe","topic":"t","since":"0000000000000000000042"})"));
    EXPECT_EQ(r.since, 42);
}

// jwt: a header whose alg is not a string ({"alg":1}) threw nlohmann's type_error from
// json::value() before the signature was checked: anyone could make the server log an
// internal error (WebSocket) or answer 500 (HTTP) instead of 401.
TEST(fuzz_regressions, non_string_alg_is_an_auth_error) {
    for (const char* token : {"eyJhbGciOjF9.e30.1QzTHnsEUKFebu96KaaW_faiuTlXnZ98okTvv1j5rXE",  // {"alg":1}.{}
                              "eyJhbGciOm51bGx9.e30.x",                                          // {"alg":null}
                              "eyJhbGciOlsiSFMyNTYiXX0.e30.x"}) {                                // {"alg":["HS256"]}
        try {
            verify_jwt(token, "k", 1000);
            ADD_FAILURE() << token << " was accepted";
        } catch (const auth_error& e) {
            EXPECT_NE(std::string(e.what()).find("refused: expected HS256"), std::string::npos) << e.what();
        }
    }
}

// filter: the key tie-break compared integer-looking keys numerically and the rest as text,
// which is not transitive ("2" < "10" < "1a" < "2"): partial_sort's window then depended on
// the order rows were met. Integer keys now come first.
TEST(fuzz_regressions, key_tie_break_is_transitive) {
    row_order by_key;
    json row = json::object();
    EXPECT_TRUE(by_key.before(row, "2", row, "10"));
    EXPECT_TRUE(by_key.before(row, "10", row, "1a"));
    EXPECT_TRUE(by_key.before(row, "2", row, "1a"));
    EXPECT_FALSE(by_key.before(row, "1a", row, "2"));
    EXPECT_TRUE(by_key.before(row, "-5", row, ""));
    EXPECT_TRUE(by_key.before(row, "a", row, "b"));
}

}  // namespace
}  // namespace pglive
