// decimal.cpp — arbitrary-precision decimals (base 1e9 limbs): parse, add, subtract, divide, numeric's division scale.
#include "core/decimal.h"

#include <algorithm>

namespace pglive {

namespace {

constexpr uint32_t base = 1000000000u;
using limbs = std::vector<uint32_t>;

void trim(limbs& m) {
    while (!m.empty() && m.back() == 0) m.pop_back();
}

int cmp_mag(const limbs& a, const limbs& b) {
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    for (size_t i = a.size(); i-- > 0;)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}

void add_mag(limbs& a, const limbs& b) {
    if (a.size() < b.size()) a.resize(b.size(), 0);
    uint64_t carry = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        uint64_t s = uint64_t(a[i]) + (i < b.size() ? b[i] : 0) + carry;
        a[i] = uint32_t(s % base);
        carry = s / base;
        if (!carry && i >= b.size()) break;
    }
    if (carry) a.push_back(uint32_t(carry));
}

// a -= b, with a >= b.
void sub_mag(limbs& a, const limbs& b) {
    int64_t borrow = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        int64_t d = int64_t(a[i]) - (i < b.size() ? b[i] : 0) - borrow;
        borrow = d < 0;
        if (borrow) d += base;
        a[i] = uint32_t(d);
        if (!borrow && i >= b.size()) break;
    }
    trim(a);
}

void mul_small(limbs& a, uint32_t m) {
    uint64_t carry = 0;
    for (auto& x : a) {
        uint64_t p = uint64_t(x) * m + carry;
        x = uint32_t(p % base);
        carry = p / base;
    }
    if (carry) a.push_back(uint32_t(carry));
    trim(a);
}

void mul_pow10(limbs& a, int k) {
    for (; k >= 9; k -= 9)
        if (!a.empty()) a.insert(a.begin(), 0u);
    static const uint32_t p10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
    if (k > 0) mul_small(a, p10[k]);
}

// a /= d; returns the remainder.
uint64_t div_small(limbs& a, uint64_t d) {
    unsigned __int128 rem = 0;
    for (size_t i = a.size(); i-- > 0;) {
        unsigned __int128 cur = rem * base + a[i];
        a[i] = uint32_t(cur / d);
        rem = cur % d;
    }
    trim(a);
    return uint64_t(rem);
}

limbs from_digits(std::string_view d) {
    limbs m;
    for (size_t end = d.size(); end > 0;) {
        size_t start = end >= 9 ? end - 9 : 0;
        uint32_t v = 0;
        for (size_t i = start; i < end; ++i) v = v * 10 + uint32_t(d[i] - '0');
        m.push_back(v);
        end = start;
    }
    trim(m);
    return m;
}

}  // namespace

decimal decimal::of(int64_t v) {
    decimal d;
    d.neg_ = v < 0;
    uint64_t u = v < 0 ? uint64_t(0) - uint64_t(v) : uint64_t(v);
    while (u) {
        d.mag_.push_back(uint32_t(u % base));
        u /= base;
    }
    return d;
}

std::optional<decimal> decimal::parse(std::string_view s) {
    size_t i = 0;
    decimal d;
    if (i < s.size() && s[i] == '-') {
        d.neg_ = true;
        ++i;
    }
    std::string digits;
    size_t int_start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') digits += s[i++];
    if (i == int_start) return std::nullopt;
    int frac = 0;
    if (i < s.size() && s[i] == '.') {
        ++i;
        size_t f = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') digits += s[i++];
        if (i == f) return std::nullopt;
        frac = int(i - f);
    }
    long exp = 0;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        bool eneg = false;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
        size_t e = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9' && exp < 100000) exp = exp * 10 + (s[i++] - '0');
        if (i == e || exp >= 100000) return std::nullopt;
        if (eneg) exp = -exp;
    }
    if (i != s.size()) return std::nullopt;
    long scale = frac - exp;
    if (scale < 0) {  // 15e2: the digits times 10^-scale, scale 0
        digits.append(size_t(-scale), '0');
        scale = 0;
    }
    d.mag_ = from_digits(digits);
    d.scale_ = int(scale);
    if (d.mag_.empty()) d.neg_ = false;
    return d;
}

void decimal::rescale_to(int scale) {
    if (scale > scale_) {
        mul_pow10(mag_, scale - scale_);
        scale_ = scale;
    }
}

void decimal::add_signed(const decimal& o, bool negate) {
    bool oneg = o.neg_ != negate;
    if (o.is_zero()) {
        rescale_to(o.scale_);
        return;
    }
    decimal b = o;
    b.rescale_to(scale_);
    rescale_to(b.scale_);
    if (is_zero()) {
        mag_ = b.mag_;
        neg_ = oneg;
    } else if (neg_ == oneg) {
        add_mag(mag_, b.mag_);
    } else if (cmp_mag(mag_, b.mag_) >= 0) {
        sub_mag(mag_, b.mag_);
    } else {
        limbs r = b.mag_;
        sub_mag(r, mag_);
        mag_ = std::move(r);
        neg_ = oneg;
    }
    if (mag_.empty()) neg_ = false;
}

decimal& decimal::operator+=(const decimal& o) {
    add_signed(o, false);
    return *this;
}

decimal& decimal::operator-=(const decimal& o) {
    add_signed(o, true);
    return *this;
}

int decimal::compare(const decimal& o) const {
    if (neg_ != o.neg_) return neg_ ? -1 : 1;
    decimal a = *this, b = o;
    a.rescale_to(b.scale_);
    b.rescale_to(a.scale_);
    int c = cmp_mag(a.mag_, b.mag_);
    return neg_ ? -c : c;
}

std::string decimal::digits() const {
    if (mag_.empty()) return "0";
    std::string out = std::to_string(mag_.back());
    for (size_t i = mag_.size() - 1; i-- > 0;) {
        std::string part = std::to_string(mag_[i]);
        out.append(9 - part.size(), '0');
        out += part;
    }
    return out;
}

std::string decimal::text(int scale) const {
    decimal v = *this;
    if (scale < scale_) {  // drop digits, rounding half away from zero
        limbs m = v.mag_;
        int k = scale_ - scale;
        uint64_t last = 0;  // half away from zero: the digit right of the cut decides
        for (int i = 0; i < k; ++i) last = div_small(m, 10);
        if (last >= 5) add_mag(m, limbs{1});
        v.mag_ = m;
        v.scale_ = scale;
    } else {
        v.rescale_to(scale);
    }
    std::string d = v.digits();
    if (int(d.size()) <= scale) d.insert(0, size_t(scale + 1 - int(d.size())), '0');
    if (scale > 0) d.insert(d.size() - size_t(scale), ".");
    if (v.neg_ && !v.mag_.empty()) d.insert(0, "-");
    return d;
}

decimal decimal::divided(uint64_t n, int scale) const {
    decimal q = *this;
    if (scale >= q.scale_) {
        q.rescale_to(scale);
        uint64_t rem = div_small(q.mag_, n);
        // Half away from zero: round up when 2·rem >= n.
        if (uint64_t(rem) >= n - rem) add_mag(q.mag_, limbs{1});
    } else {
        // round(mag / n / 10^k) = floor((floor(mag / n) + 5·10^(k-1)) / 10^k): exact, as floor
        // of an integer plus an integer commutes with the integer division by 10^k.
        int k = q.scale_ - scale;
        div_small(q.mag_, n);
        limbs half{5};
        mul_pow10(half, k - 1);
        add_mag(q.mag_, half);
        for (int i = 0; i < k; ++i) div_small(q.mag_, 10);
        q.scale_ = scale;
    }
    if (q.mag_.empty()) q.neg_ = false;
    return q;
}

int decimal::div_scale(uint64_t n, int display_scale) const {
    // Base-10000 digits aligned at the point, as numeric stores them.
    std::string t = text(display_scale);
    if (!t.empty() && t[0] == '-') t.erase(0, 1);
    size_t dot = t.find('.');
    std::string ip = t.substr(0, dot), fp = dot == std::string::npos ? "" : t.substr(dot + 1);
    ip.insert(0, (4 - ip.size() % 4) % 4, '0');
    fp.append((4 - fp.size() % 4) % 4, '0');
    std::string all = ip + fp;
    int int_groups = int(ip.size() / 4);
    int weight1 = 0, first1 = 0;
    for (size_t g = 0; g * 4 < all.size(); ++g) {
        int v = std::stoi(all.substr(g * 4, 4));
        if (v != 0) {
            weight1 = int_groups - 1 - int(g);
            first1 = v;
            break;
        }
    }
    int weight2 = 0;
    uint64_t first2 = n;
    while (first2 >= 10000) {
        first2 /= 10000;
        ++weight2;
    }
    int qweight = weight1 - weight2;
    if (uint64_t(first1) <= first2) --qweight;
    int rscale = 16 - qweight * 4;  // NUMERIC_MIN_SIG_DIGITS - qweight * DEC_DIGITS
    rscale = std::max(rscale, display_scale);
    rscale = std::max(rscale, 0);
    return std::min(rscale, 1000);
}

}  // namespace pglive
