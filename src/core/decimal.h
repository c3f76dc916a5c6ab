// decimal.h — exact decimal numbers for live sums and averages: add, subtract, divide as PostgreSQL's numeric does.
//
// Aggregates of integer and numeric columns must never go through a double (docs/DESIGN.md,
// "Exact values"). A decimal is a sign, an arbitrary-length magnitude and a scale (digits after
// the point): value = ±magnitude × 10^-scale. Addition keeps the larger scale, as numeric's
// does; `divide` gives the quotient rounded half away from zero at a chosen scale, and
// `avg_scale` is the scale PostgreSQL 15's numeric_div picks (select_div_scale).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pglive {

class decimal {
public:
    decimal() = default;  // zero, scale 0
    static decimal of(int64_t v);
    // A JSON number literal (-?digits[.digits][e±digits]); nullopt when it is not one. The scale
    // is the number of digits written after the point (an exponent moves it: 1.5e1 has scale 0,
    // 15e-3 scale 3), as numeric_in reads it.
    static std::optional<decimal> parse(std::string_view literal);

    decimal& operator+=(const decimal& o);
    decimal& operator-=(const decimal& o);

    bool is_zero() const { return mag_.empty(); }
    bool negative() const { return neg_; }
    int scale() const { return scale_; }
    // The value written with exactly `scale` digits after the point (numeric's output form: no
    // exponent, "-" only when non-zero). Digits dropped must be zeros (a smaller scale than the
    // value's own is for values known to be exact at it), else they are rounded half away from zero.
    std::string text(int scale) const;
    std::string text() const { return text(scale_); }

    // The quotient by `n` (> 0) with `scale` digits after the point, rounded half away from zero.
    decimal divided(uint64_t n, int scale) const;
    // The scale of numeric_div(this, n) in PostgreSQL 15 (select_div_scale), the value shown
    // with `display_scale` (its dscale) and n an integer (dscale 0): at least 16 significant
    // digits, never less than the dividend's display scale, at most 1000.
    int div_scale(uint64_t n, int display_scale) const;

    friend bool operator==(const decimal& a, const decimal& b) { return a.compare(b) == 0; }
    int compare(const decimal& o) const;

private:
    using limbs = std::vector<uint32_t>;  // base 1e9, least significant first, no leading zero limbs
    bool neg_ = false;
    limbs mag_;
    int scale_ = 0;

    void rescale_to(int scale);  // scale >= scale_: multiplies the magnitude by 10^(scale - scale_)
    void add_signed(const decimal& o, bool negate);
    std::string digits() const;  // the magnitude in decimal ("0" for zero)
};

}  // namespace pglive
