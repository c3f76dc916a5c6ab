// decimal_test.cpp — guards core/decimal: exact add/subtract at any size, scales as numeric keeps them, division rounding and PostgreSQL 15's avg scale.
#include <gtest/gtest.h>

#include <random>

#include "core/decimal.h"

namespace pglive {
namespace {

decimal d(const char* s) {
    auto v = decimal::parse(s);
    if (!v) throw std::invalid_argument(std::string("not a decimal: ") + s);
    return *v;
}

TEST(Decimal, parses_literals_keeping_their_scale) {
    EXPECT_EQ(d("0").text(), "0");
    EXPECT_EQ(d("-0").text(), "0");
    EXPECT_EQ(d("1.50").text(), "1.50");
    EXPECT_EQ(d("1.50").scale(), 2);
    EXPECT_EQ(d("-0.001").text(), "-0.001");
    EXPECT_EQ(d("15e-3").text(), "0.015");
    EXPECT_EQ(d("1.5e1").text(), "15");
    EXPECT_EQ(d("12e3").text(), "12000");
    EXPECT_EQ(d("123456789012345678901234567890.123456789012345678901234567890").text(),
              "123456789012345678901234567890.123456789012345678901234567890");
    for (const char* bad : {"", "-", "1.", ".5", "1e", "abc", "1.5x", "+1", "1e+"}) EXPECT_FALSE(decimal::parse(bad)) << bad;
}

TEST(Decimal, adds_and_subtracts_exactly_at_the_larger_scale) {
    decimal s;
    s += d("9223372036854775807");
    s += d("9223372036854775807");
    EXPECT_EQ(s.text(), "18446744073709551614");
    s += d("0.5");
    EXPECT_EQ(s.text(), "18446744073709551614.5");
    s -= d("18446744073709551615");
    EXPECT_EQ(s.text(), "-0.5");
    s += d("0.50");
    EXPECT_EQ(s.text(), "0.00");
    EXPECT_TRUE(s.is_zero());
    EXPECT_FALSE(s.negative());
    s -= d("999999999.999999999");
    EXPECT_EQ(s.text(), "-999999999.999999999");
    s += decimal::of(-1);
    EXPECT_EQ(s.text(), "-1000000000.999999999");
    EXPECT_EQ(decimal::of(INT64_MIN).text(), "-9223372036854775808");
}

TEST(Decimal, a_smaller_output_scale_drops_zeros_and_rounds_half_away_from_zero) {
    EXPECT_EQ(d("3.500").text(1), "3.5");
    EXPECT_EQ(d("2.45").text(1), "2.5");
    EXPECT_EQ(d("-2.45").text(1), "-2.5");
    EXPECT_EQ(d("2.449").text(1), "2.4");
    EXPECT_EQ(d("7").text(3), "7.000");
    EXPECT_EQ(d("-0.04").text(1), "0.0");
}

TEST(Decimal, random_sums_equal_int128_arithmetic) {
    std::mt19937_64 rng(7);
    for (int round = 0; round < 200; ++round) {
        decimal s;
        __int128 expect = 0;  // in units of 10^-3
        for (int i = 0; i < 50; ++i) {
            int64_t unscaled = int64_t(rng() % 2000000000001ull) - 1000000000000;
            int scale = int(rng() % 4);
            std::string lit = std::to_string(unscaled < 0 ? -unscaled : unscaled);
            if (scale) {
                if (int(lit.size()) <= scale) lit.insert(0, size_t(scale + 1 - int(lit.size())), '0');
                lit.insert(lit.size() - size_t(scale), ".");
            }
            if (unscaled < 0) lit.insert(0, "-");
            __int128 v = unscaled;
            for (int k = scale; k < 3; ++k) v *= 10;
            if (rng() % 3 == 0) {
                s -= d(lit.c_str());
                expect -= v;
            } else {
                s += d(lit.c_str());
                expect += v;
            }
        }
        bool neg = expect < 0;
        unsigned __int128 m = neg ? -(unsigned __int128)expect : expect;
        std::string digits;
        do {
            digits.insert(digits.begin(), char('0' + int(m % 10)));
            m /= 10;
        } while (m);
        while (digits.size() < 4) digits.insert(0, "0");
        digits.insert(digits.size() - 3, ".");
        if (neg) digits.insert(0, "-");
        EXPECT_EQ(s.text(3), digits);
    }
}

TEST(Decimal, division_rounds_half_away_from_zero_at_the_asked_scale) {
    EXPECT_EQ(d("1").divided(3, 5).text(), "0.33333");
    EXPECT_EQ(d("2").divided(3, 5).text(), "0.66667");
    EXPECT_EQ(d("-2").divided(3, 5).text(), "-0.66667");
    EXPECT_EQ(d("5").divided(2, 0).text(), "3");
    EXPECT_EQ(d("-5").divided(2, 0).text(), "-3");
    EXPECT_EQ(d("0.25").divided(1, 1).text(), "0.3");
    EXPECT_EQ(d("0.0001").divided(3, 2).text(), "0.00");
    EXPECT_EQ(d("18446744073709551614").divided(2, 0).text(), "9223372036854775807");
}

// The scales PostgreSQL 15 gives avg() (numeric_div's select_div_scale), read from psql:
//   avg of 1,2 = 1.5000000000000000; of 0,0 = 0.00000000000000000000; of 10000,20000 (sum 30000)
//   = 15000.000000000000; of 1.50,2.5 = 2.0000000000000000; of 0.001, 0.002 = 0.00150000000000000000.
TEST(Decimal, the_division_scale_is_numeric_divs) {
    auto avg = [](const char* sum, int scale, uint64_t n) {
        decimal s = d(sum);
        return s.divided(n, s.div_scale(n, scale)).text();
    };
    EXPECT_EQ(avg("3", 0, 2), "1.5000000000000000");
    EXPECT_EQ(avg("0", 0, 2), "0.00000000000000000000");
    EXPECT_EQ(avg("30000", 0, 2), "15000.000000000000");
    EXPECT_EQ(avg("4.00", 2, 2), "2.0000000000000000");
    EXPECT_EQ(avg("0.003", 3, 2), "0.00150000000000000000");
    // A display scale above the computed one wins.
    EXPECT_EQ(avg("1.00000000000000000000000000001", 29, 1), "1.00000000000000000000000000001");
}

}  // namespace
}  // namespace pglive
