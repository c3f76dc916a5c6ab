// typed_value.cpp — values read and compared as PostgreSQL does for their column's type: exact
// integers and decimals, floats as their type, instants, dates, times, UUIDs, text bytes.
#include "core/typed_value.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdlib>

#include "core/exact_json.h"

namespace pglive {

namespace {

using cls = typed_value::cls;

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool digit(char c) { return c >= '0' && c <= '9'; }

// NaN, Infinity, -Infinity (and PostgreSQL's other spellings: inf, +inf, infinity, any case).
bool special_number(std::string_view s, typed_value& out) {
    std::string l = lower(trim(s));
    if (l == "nan") out.c = cls::nan;
    else if (l == "infinity" || l == "+infinity" || l == "inf" || l == "+inf") out.c = cls::pos_inf;
    else if (l == "-infinity" || l == "-inf") out.c = cls::neg_inf;
    else return false;
    return true;
}

// A decimal literal ([+-]digits[.digits][e[+-]digits], also ".5" and "5.") → sign, significant
// digits without leading or trailing zeros, and exp with value = 0.digits × 10^exp. No double.
bool parse_decimal(std::string_view s, typed_value& out) {
    s = trim(s);
    size_t i = 0, n = s.size();
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    std::string digits;
    int64_t int_digits = 0;
    bool any = false;
    while (i < n && digit(s[i])) digits += s[i++], ++int_digits, any = true;
    if (i < n && s[i] == '.') {
        ++i;
        while (i < n && digit(s[i])) digits += s[i++], any = true;
    }
    if (!any) return false;
    int64_t e = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
        if (i == n || !digit(s[i])) return false;
        while (i < n && digit(s[i])) {
            if (e < 1000000000000LL) e = e * 10 + (s[i] - '0');  // saturates far beyond any numeric
            ++i;
        }
        if (eneg) e = -e;
    }
    if (i != n) return false;
    size_t lead = 0;
    while (lead < digits.size() && digits[lead] == '0') ++lead;
    size_t last = digits.size();
    while (last > lead && digits[last - 1] == '0') --last;
    out.c = cls::finite;
    out.s = digits.substr(lead, last - lead);
    out.exp = out.s.empty() ? 0 : int_digits - int64_t(lead) + e;
    out.neg = neg && !out.s.empty();
    return true;
}


int compare_decimal(const typed_value& a, const typed_value& b) {
    int sa = a.s.empty() ? 0 : a.neg ? -1 : 1, sb = b.s.empty() ? 0 : b.neg ? -1 : 1;
    if (sa != sb) return sa < sb ? -1 : 1;
    if (sa == 0) return 0;
    int m = a.exp != b.exp ? (a.exp < b.exp ? -1 : 1) : sign_of(a.s.compare(b.s));
    return sa > 0 ? m : -m;
}

int rank(cls c) { return c == cls::neg_inf ? 0 : c == cls::finite ? 1 : c == cls::pos_inf ? 2 : 3; }

// PostgreSQL's order for numeric and float: -Infinity < numbers < Infinity < NaN, NaN = NaN.
int compare_class(const typed_value& a, const typed_value& b) { return sign_of(rank(a.c) - rank(b.c)); }

bool parse_int64(std::string_view s, int64_t& v) {
    s = trim(s);
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool parse_float(std::string_view s, bool single, typed_value& out) {
    if (special_number(s, out)) return true;
    s = trim(s);
    typed_value check;
    if (!parse_decimal(s, check)) return false;  // the strtod grammar is wider (hex, "nan(…)")
    std::string text(s);
    char* end = nullptr;
    out.c = cls::finite;
    out.d = single ? double(std::strtof(text.c_str(), &end)) : std::strtod(text.c_str(), &end);
    return true;
}

bool parse_bool(std::string_view s, int64_t& v) {
    std::string l = lower(trim(s));
    if (l == "true" || l == "t" || l == "yes" || l == "y" || l == "on" || l == "1") v = 1;
    else if (l == "false" || l == "f" || l == "no" || l == "n" || l == "off" || l == "0") v = 0;
    else return false;
    return true;
}

bool parse_uuid(std::string_view s, std::string& out) {
    s = trim(s);
    if (s.size() >= 2 && s.front() == '{' && s.back() == '}') s = s.substr(1, s.size() - 2);
    std::string hex;
    for (char c : s) {
        if (c == '-') continue;
        char l = (c >= 'A' && c <= 'F') ? char(c - 'A' + 'a') : c;
        if (!digit(l) && !(l >= 'a' && l <= 'f')) return false;
        hex += l;
    }
    if (hex.size() != 32) return false;
    out = hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
          hex.substr(20);
    return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (year 0 = 1 BC), H. Hinnant's algorithm.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = unsigned(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + int64_t(doe) - 719468;
}

bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// Reads n..max digits at s[i]; false when fewer than n.
bool number_at(std::string_view s, size_t& i, size_t n, size_t max, int64_t& v) {
    size_t start = i;
    v = 0;
    while (i < s.size() && digit(s[i]) && i - start < max) v = v * 10 + (s[i++] - '0');
    return i - start >= n;
}

// HH:MM[:SS[.frac]] at s[i] → µs of the day (fractions rounded to µs, as PostgreSQL does).
bool time_at(std::string_view s, size_t& i, int64_t& us) {
    int64_t h, m, sec = 0, frac = 0;
    if (!number_at(s, i, 2, 2, h) || i >= s.size() || s[i++] != ':' || !number_at(s, i, 2, 2, m)) return false;
    if (i < s.size() && s[i] == ':') {
        ++i;
        if (!number_at(s, i, 2, 2, sec)) return false;
        if (i < s.size() && s[i] == '.') {
            ++i;
            int digits = 0;
            bool round_up = false;
            if (i >= s.size() || !digit(s[i])) return false;
            while (i < s.size() && digit(s[i])) {
                if (digits < 6) frac = frac * 10 + (s[i] - '0');
                else if (digits == 6) round_up = s[i] >= '5';
                ++digits;
                ++i;
            }
            for (int k = digits; k < 6; ++k) frac *= 10;
            if (round_up) ++frac;
        }
    }
    if (h > 24 || m > 59 || sec > 60 || (h == 24 && (m || sec || frac))) return false;
    us = ((h * 60 + m) * 60 + sec) * 1000000 + frac;
    return true;
}

// ISO 8601 as PostgreSQL writes and reads it: "2026-12-02", "2026-12-02T10:00:00.5+05:30",
// "2026-12-02 10:00", offsets Z/±HH/±HHMM/±HH:MM[:SS], a trailing " BC", "infinity".
// Gives µs since 1970-01-01 UTC (the offset applied when use_offset), or days for a date.
bool parse_datetime(std::string_view s, bool use_offset, bool as_date, typed_value& out) {
    s = trim(s);
    std::string l = lower(s);
    if (l == "infinity" || l == "+infinity") {
        out.c = cls::pos_inf;
        return true;
    }
    if (l == "-infinity") {
        out.c = cls::neg_inf;
        return true;
    }
    bool bc = false;
    if (l.size() > 3 && (l.ends_with(" bc") || l.ends_with(" ad"))) {
        bc = l.ends_with(" bc");
        s = trim(s.substr(0, s.size() - 3));
    }
    size_t i = 0;
    int64_t y, mo, d;
    if (!number_at(s, i, 4, 6, y) || i >= s.size() || s[i++] != '-' || !number_at(s, i, 2, 2, mo) ||
        i >= s.size() || s[i++] != '-' || !number_at(s, i, 2, 2, d))
        return false;
    if (bc) {
        if (y == 0) return false;
        y = 1 - y;
    }
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y) ? 1 : 0)) return false;
    int64_t days = days_from_civil(y, unsigned(mo), unsigned(d));
    int64_t us = 0, offset_s = 0;
    if (i < s.size() && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
        ++i;
        if (!time_at(s, i, us)) return false;
        while (i < s.size() && s[i] == ' ') ++i;
        if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
            ++i;
        } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
            int sign = s[i++] == '-' ? -1 : 1;
            int64_t oh, om = 0, os = 0;
            if (!number_at(s, i, 2, 2, oh)) return false;
            if (i < s.size() && s[i] == ':') ++i;
            if (i < s.size() && digit(s[i])) {
                if (!number_at(s, i, 2, 2, om)) return false;
                if (i < s.size() && s[i] == ':') ++i;
                if (i < s.size() && digit(s[i]) && !number_at(s, i, 2, 2, os)) return false;
            }
            if (oh > 15 || om > 59 || os > 59) return false;
            offset_s = sign * (oh * 3600 + om * 60 + os);
        }
    }
    if (i != s.size()) return false;
    out.c = cls::finite;
    out.i = as_date ? days : days * 86400000000LL + us - (use_offset ? offset_s * 1000000 : 0);
    return true;
}

bool parse_time(std::string_view s, typed_value& out) {
    s = trim(s);
    size_t i = 0;
    int64_t us;
    if (!time_at(s, i, us) || i != s.size()) return false;
    out.c = cls::finite;
    out.i = us;
    return true;
}

int type_rank(const json& v) {
    if (v.is_boolean()) return 0;
    if (is_any_number(v)) return 1;
    if (v.is_string()) return 2;
    return 3;
}

}  // namespace

// Reads a text (a filter value, or a row's string) as `k`.
bool read_text(value_kind k, std::string_view s, typed_value& out) {
    switch (k) {
    case value_kind::integer:
        if (parse_int64(s, out.i)) return true;
        return false;
    case value_kind::numeric: return special_number(s, out) || parse_decimal(s, out);
    case value_kind::float4: return parse_float(s, true, out);
    case value_kind::float8: return parse_float(s, false, out);
    case value_kind::boolean: return parse_bool(s, out.i);
    case value_kind::uuid: return parse_uuid(s, out.s);
    case value_kind::timestamptz: return parse_datetime(s, true, false, out);
    case value_kind::timestamp: return parse_datetime(s, false, false, out);
    case value_kind::date: return parse_datetime(s, false, true, out);
    case value_kind::time: return parse_time(s, out);
    case value_kind::text:
    case value_kind::other:
    case value_kind::unknown: out.s = std::string(s); return true;
    }
    return false;
}

// Reads a row's (non-null) value as `k`; false when it does not read (then it never matches).
bool read_row(value_kind k, const json& v, typed_value& out) {
    switch (k) {
    case value_kind::integer:
        // is_number_integer() holds for unsigned too: those above int64 go the exact way.
        if (v.is_number_integer() && (!v.is_number_unsigned() || v.get<uint64_t>() <= uint64_t(INT64_MAX))) {
            out.i = v.get<int64_t>();
            return true;
        }
        if (v.is_number_unsigned() || is_exact_number(v)) {  // beyond int64: exactly, as a decimal
            out.big = true;
            return parse_decimal(number_text(v), out);
        }
        return false;
    case value_kind::numeric:
        if (is_any_number(v)) return parse_decimal(number_text(v), out);
        if (v.is_string()) return special_number(v.get_ref<const std::string&>(), out);
        return false;
    case value_kind::float4:
    case value_kind::float8:
        if (is_any_number(v)) return parse_float(number_text(v), k == value_kind::float4, out);
        if (v.is_string()) return special_number(v.get_ref<const std::string&>(), out);
        return false;
    case value_kind::boolean:
        if (!v.is_boolean()) return false;
        out.i = v.get<bool>() ? 1 : 0;
        return true;
    case value_kind::text:
    case value_kind::uuid:
        if (!v.is_string()) return false;
        out.s = v.get<std::string>();
        return true;
    case value_kind::timestamptz:
    case value_kind::timestamp:
    case value_kind::date:
    case value_kind::time:
        return v.is_string() && read_text(k, v.get_ref<const std::string&>(), out);
    case value_kind::other:
    case value_kind::unknown:
        out.s = v.is_string() ? v.get<std::string>() : dump_exact(v);
        return true;
    }
    return false;
}

// -1, 0, 1 for two values read as `k`.
int compare_typed(value_kind k, const typed_value& a, const typed_value& b) {
    switch (k) {
    case value_kind::integer:
        if (!a.big && !b.big) return a.i < b.i ? -1 : a.i > b.i ? 1 : 0;
        {
            typed_value x = a, y = b;
            if (!x.big) parse_decimal(std::to_string(x.i), x);
            if (!y.big) parse_decimal(std::to_string(y.i), y);
            return compare_decimal(x, y);
        }
    case value_kind::numeric:
        if (a.c != cls::finite || b.c != cls::finite) return compare_class(a, b);
        return compare_decimal(a, b);
    case value_kind::float4:
    case value_kind::float8:
        if (a.c != cls::finite || b.c != cls::finite) return compare_class(a, b);
        return a.d < b.d ? -1 : a.d > b.d ? 1 : 0;
    case value_kind::boolean:
    case value_kind::time: return a.i < b.i ? -1 : a.i > b.i ? 1 : 0;
    case value_kind::timestamptz:
    case value_kind::timestamp:
    case value_kind::date:
        if (a.c != cls::finite || b.c != cls::finite) return compare_class(a, b);  // no NaN here
        return a.i < b.i ? -1 : a.i > b.i ? 1 : 0;
    default: return sign_of(a.s.compare(b.s));  // byte order (char_traits<char> compares as unsigned)
    }
}

// A column of unknown type goes by the row's JSON value: numbers exactly, booleans, else text.
value_kind inferred(const json& v) {
    if (is_any_number(v)) return value_kind::numeric;
    if (v.is_boolean()) return value_kind::boolean;
    return value_kind::other;
}

int compare_values(value_kind k, const json& a, const json& b) {
    if (k == value_kind::unknown) {
        int ra = type_rank(a), rb = type_rank(b);
        if (ra != rb) return ra < rb ? -1 : 1;
        k = inferred(a);
    }
    if (a.is_string() && b.is_string() && (k == value_kind::text || k == value_kind::uuid || k == value_kind::other))
        return sign_of(a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>()));
    typed_value x, y;
    bool okx = read_row(k, a, x), oky = read_row(k, b, y);
    if (okx && oky) return compare_typed(k, x, y);
    if (okx != oky) return okx ? -1 : 1;
    return sign_of((a.is_string() ? a.get<std::string>() : dump_exact(a)).compare(b.is_string() ? b.get<std::string>() : dump_exact(b)));
}

value_kind kind_of_type(const std::string& t) {
    if (t.empty()) return value_kind::unknown;  // no type given: by the JSON value
    std::string_view n = t;
    if (n.starts_with("pg_catalog.")) n.remove_prefix(11);
    auto base = n.substr(0, n.find('('));  // "numeric(10,2)", "timestamp(3) with time zone"
    std::string rest = n.find(')') == std::string_view::npos ? "" : std::string(n.substr(n.find(')') + 1));
    std::string b(base);
    while (!b.empty() && b.back() == ' ') b.pop_back();
    if (n.ends_with("[]")) return value_kind::other;
    if (b == "smallint" || b == "integer" || b == "bigint" || b == "int2" || b == "int4" || b == "int8")
        return value_kind::integer;
    if (b == "numeric" || b == "decimal") return value_kind::numeric;
    if (b == "real" || b == "float4") return value_kind::float4;
    if (b == "double precision" || b == "float8") return value_kind::float8;
    if (b == "boolean" || b == "bool") return value_kind::boolean;
    if (b == "text" || b == "character varying" || b == "varchar" || b == "character" || b == "char" ||
        b == "bpchar" || b == "name" || b == "\"char\"" || b == "citext")
        return value_kind::text;
    if (b == "uuid") return value_kind::uuid;
    if (n == "timestamp with time zone" || n == "timestamptz" || (b == "timestamp" && rest == " with time zone"))
        return value_kind::timestamptz;
    if (n == "timestamp without time zone" || n == "timestamp" || (b == "timestamp" && rest == " without time zone"))
        return value_kind::timestamp;
    if (b == "date") return value_kind::date;
    if (n == "time without time zone" || n == "time" || (b == "time" && rest == " without time zone")) return value_kind::time;
    return value_kind::other;
}

bool is_json_type(const std::string& t) { return t == "json" || t == "jsonb"; }

const char* to_string(value_kind k) {
    switch (k) {
    case value_kind::unknown: return "unknown";
    case value_kind::integer: return "integer";
    case value_kind::numeric: return "numeric";
    case value_kind::float4: return "float4";
    case value_kind::float8: return "float8";
    case value_kind::boolean: return "boolean";
    case value_kind::text: return "text";
    case value_kind::uuid: return "uuid";
    case value_kind::timestamptz: return "timestamptz";
    case value_kind::timestamp: return "timestamp";
    case value_kind::date: return "date";
    case value_kind::time: return "time";
    case value_kind::other: return "other";
    }
    return "?";
}

}  // namespace pglive
