// values.cpp — column types, canonical values, tagged JSON, exact comparison, random values.
#include "model/values.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <stdexcept>

namespace pglive::model {

const char* sql_type(col_type t) {
    switch (t) {
    case col_type::int4: return "int4";
    case col_type::int8: return "int8";
    case col_type::numeric: return "numeric";
    case col_type::float8: return "float8";
    case col_type::text: return "text";
    case col_type::boolean: return "bool";
    case col_type::timestamptz: return "timestamptz";
    case col_type::jsonb: return "jsonb";
    }
    return "?";
}

int table_def::index(const std::string& col) const {
    for (size_t i = 0; i < cols.size(); ++i)
        if (cols[i].name == col) return int(i);
    throw std::invalid_argument("no column " + col + " in " + name);
}

std::vector<int> table_def::exposed() const {
    std::vector<int> out;
    for (size_t i = 0; i < cols.size(); ++i)
        if (!cols[i].hidden) out.push_back(int(i));
    return out;
}

const std::vector<table_def>& tables() {
    static const std::vector<table_def> t = [] {
        std::vector<table_def> v(2);
        v[MT].name = "mt";
        v[MT].topic = "public.mt";
        v[MT].cols = {{"id", col_type::int8},     {"i4", col_type::int4},    {"i8", col_type::int8},
                      {"num", col_type::numeric}, {"f8", col_type::float8},  {"txt", col_type::text},
                      {"b", col_type::boolean},   {"ts", col_type::timestamptz}, {"j", col_type::jsonb},
                      {"grp", col_type::int4},    {"secret", col_type::text, true}};
        v[MT].key = {0};
        v[ST].name = "st";
        v[ST].topic = "public.st";
        v[ST].cols = {{"k", col_type::text}, {"n", col_type::int4}, {"v", col_type::text}, {"q", col_type::int4}};
        v[ST].key = {0, 1};
        return v;
    }();
    return t;
}

std::string canonical_sql(const std::string& expr, col_type t) {
    if (t == col_type::timestamptz)
        return "to_char((" + expr + ") at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')";
    return "(" + expr + ")::text";
}

namespace {

int sgn(int c) { return c < 0 ? -1 : c > 0 ? 1 : 0; }

// Magnitude comparison of two unsigned decimal texts ("0012.340" == "12.34").
int cmp_magnitude(const std::string& a, const std::string& b) {
    auto split = [](const std::string& s, std::string& ip, std::string& fp) {
        auto dot = s.find('.');
        ip = s.substr(0, dot);
        fp = dot == std::string::npos ? "" : s.substr(dot + 1);
        size_t z = ip.find_first_not_of('0');
        ip = z == std::string::npos ? "" : ip.substr(z);
        while (!fp.empty() && fp.back() == '0') fp.pop_back();
    };
    std::string ai, af, bi, bf;
    split(a, ai, af);
    split(b, bi, bf);
    if (ai.size() != bi.size()) return ai.size() < bi.size() ? -1 : 1;
    if (int c = ai.compare(bi)) return sgn(c);
    return sgn(af.compare(bf));  // "" < "5" < "50" is right once trailing zeros are gone
}

int cmp_numeric(const std::string& a, const std::string& b) {
    bool na = !a.empty() && a[0] == '-', nb = !b.empty() && b[0] == '-';
    std::string ma = na ? a.substr(1) : a, mb = nb ? b.substr(1) : b;
    bool za = cmp_magnitude(ma, "0") == 0, zb = cmp_magnitude(mb, "0") == 0;
    if (za) na = false;
    if (zb) nb = false;
    if (na != nb) return na ? -1 : 1;
    int c = cmp_magnitude(ma, mb);
    return na ? -c : c;
}

double parse_double(const std::string& s) {
    if (s == "NaN") return std::nan("");
    if (s == "Infinity") return INFINITY;
    if (s == "-Infinity") return -INFINITY;
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size()) throw std::invalid_argument("not a float8: " + s);
    return d;
}

}  // namespace

int compare_values(col_type t, const std::string& a, const std::string& b) {
    switch (t) {
    case col_type::int4:
    case col_type::int8: {
        long long x = std::stoll(a), y = std::stoll(b);
        return x < y ? -1 : x > y ? 1 : 0;
    }
    case col_type::numeric: return cmp_numeric(a, b);
    case col_type::float8: {
        double x = parse_double(a), y = parse_double(b);
        bool nx = std::isnan(x), ny = std::isnan(y);  // PostgreSQL: NaN = NaN, above every other value
        if (nx || ny) return nx && ny ? 0 : nx ? 1 : -1;
        return x < y ? -1 : x > y ? 1 : 0;
    }
    case col_type::text: return sgn(a.compare(b));  // C collation: bytewise
    case col_type::boolean: return (a == "true") - (b == "true");
    case col_type::timestamptz: return sgn(a.compare(b));  // fixed-width UTC text
    case col_type::jsonb: break;
    }
    throw std::invalid_argument("compare_values: unsupported type");
}

std::string row_key(const table_def& t, const row& r) {
    if (t.key.size() == 1) return *r[size_t(t.key[0])];
    std::string s = "[";
    for (size_t i = 0; i < t.key.size(); ++i) {
        const auto& c = t.cols[size_t(t.key[i])];
        const std::string& v = *r[size_t(t.key[i])];
        if (i) s += ",";
        s += c.type == col_type::text ? json(v).dump() : v;
    }
    return s + "]";
}

json parse_tagged(const std::string& text) {
    std::string out;
    out.reserve(text.size() + text.size() / 4);
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (in_string) {
            out += c;
            if (c == '\\' && i + 1 < text.size()) out += text[++i];
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
            out += c;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t j = i;
            while (j < text.size() && (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '-' ||
                                       text[j] == '+' || text[j] == '.' || text[j] == 'e' || text[j] == 'E'))
                ++j;
            out += "\"\\u0001";
            out.append(text, i, j - i);
            out += '"';
            i = j - 1;
        } else {
            out += c;
        }
    }
    return json::parse(out);
}

bool is_tagged_number(const json& v) {
    return v.is_string() && !v.get_ref<const std::string&>().empty() && v.get_ref<const std::string&>()[0] == '\x01';
}

std::string tagged_text(const json& v) { return v.get_ref<const std::string&>().substr(1); }

std::string show(const json& v) {
    if (is_tagged_number(v)) return tagged_text(v);
    if (v.is_object()) {
        std::string s = "{";
        bool first = true;
        for (auto it = v.begin(); it != v.end(); ++it) {
            s += (first ? "" : ",") + json(it.key()).dump() + ":" + show(it.value());
            first = false;
        }
        return s + "}";
    }
    if (v.is_array()) {
        std::string s = "[";
        for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + show(v[i]);
        return s + "]";
    }
    return v.dump();
}

namespace {
bool fail(std::string* why, const std::string& w) {
    if (why) *why = w;
    return false;
}
bool is_plain_string(const json& v) { return v.is_string() && !is_tagged_number(v); }
}  // namespace

bool wire_equals(col_type t, const value& expected, const json& actual, std::string* why) {
    if (!expected) return actual.is_null() || fail(why, "expected null");
    switch (t) {
    case col_type::int4:
    case col_type::int8:
    case col_type::numeric:
        if (!is_tagged_number(actual)) return fail(why, "expected the JSON number " + *expected);
        return tagged_text(actual) == *expected || fail(why, "expected the literal " + *expected);
    case col_type::float8: {
        if (*expected == "NaN" || *expected == "Infinity" || *expected == "-Infinity")
            return (is_plain_string(actual) && actual.get<std::string>() == *expected) ||
                   fail(why, "expected the string \"" + *expected + "\"");
        if (!is_tagged_number(actual)) return fail(why, "expected a JSON number");
        double a = 0;
        try {
            a = parse_double(tagged_text(actual));
        } catch (...) {
            return fail(why, "not a number literal");
        }
        return a == parse_double(*expected) || fail(why, "a different double than " + *expected);
    }
    case col_type::text:
        return (is_plain_string(actual) && actual.get<std::string>() == *expected) || fail(why, "different text");
    case col_type::boolean:
        return (actual.is_boolean() && actual.get<bool>() == (*expected == "true")) || fail(why, "different bool");
    case col_type::timestamptz: {
        if (!is_plain_string(actual)) return fail(why, "expected an ISO 8601 string");
        const std::string& s = actual.get_ref<const std::string&>();
        // YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+00:00|+00)
        if (s.size() < 20 || s[10] != 'T') return fail(why, "not ISO 8601 with T");
        size_t i = 19;
        std::string frac;
        if (i < s.size() && s[i] == '.') {
            ++i;
            while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) frac += s[i++];
            if (frac.empty() || frac.size() > 6) return fail(why, "bad fraction");
        }
        std::string zone = s.substr(i);
        if (zone != "Z" && zone != "+00:00" && zone != "+00") return fail(why, "not written in UTC (" + zone + ")");
        frac.resize(6, '0');
        return (s.substr(0, 19) == expected->substr(0, 19) && frac == expected->substr(20)) ||
               fail(why, "a different instant than " + *expected + "Z");
    }
    case col_type::jsonb: {
        json e = parse_tagged(*expected);
        return e == actual || fail(why, "different JSON, expected " + *expected);
    }
    }
    return false;
}

std::string sql_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += "''";
        else out += c;
    }
    return out + "'";
}

// ---- random values ----

namespace {
const char* const hard_texts[] = {"plain",  "O'Brien",   "say \"hi\"", "back\\slash", "comma,paren(x)",
                                  "dot.ted", "\xc3\xa9t\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80",
                                  "tab\tnew\nline", "", "Z", "a", "~/sl/ti~", "{\"x\":1}", "\x1f",
                                  "e\xcc\x81", "zz", "A", "null"};
const char* const tame_words[] = {"apple", "berry", "cherry", "date", "elder", "fig", "grape", "kiwi"};
}  // namespace

std::string value_gen::text() {
    if (!hard) return tame_words[pick(8)];
    int n = 1 + pick(2);
    std::string s;
    for (int i = 0; i < n; ++i) s += hard_texts[pick(int(std::size(hard_texts)))];
    return s;
}

int64_t value_gen::mt_id() {
    static const int64_t extremes[] = {9007199254740993LL, 9223372036854775807LL, INT64_MIN, 9007199254740992LL,
                                       1234567890123456789LL, -9007199254740993LL};
    if (hard && chance(0.08)) return extremes[pick(6)];
    int64_t v = 1 + pick(40);
    return chance(0.25) ? -v : v;
}

std::string value_gen::st_k() { return std::string(1, char('a' + pick(5))); }
int value_gen::st_n() { return pick(12); }

std::string value_gen::timestamp_text() {
    // 1970 .. 2100, microseconds
    int64_t secs = int64_t(next() % uint64_t(4102444800LL));
    int micros = pick(1000000);
    if (chance(0.2)) micros = 0;
    int offset_min = 0;
    static const int offsets[] = {0, 330, -210, 765, -600, 60, -480, 840};
    if (zones) offset_min = offsets[pick(8)];
    time_t local = time_t(secs + offset_min * 60);
    tm t{};
    gmtime_r(&local, &t);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06d", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                  t.tm_hour, t.tm_min, t.tm_sec, micros);
    std::string s = buf;
    if (!zones) return s + "Z";
    if (offset_min == 0) return s + (chance(0.5) ? "Z" : "+00:00");
    int a = std::abs(offset_min);
    std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset_min < 0 ? '-' : '+', a / 60, a % 60);
    return s + buf;
}

std::string value_gen::filter_literal(col_type t) {
    switch (t) {
    case col_type::int4: {
        if (hard && chance(0.2)) return chance(0.5) ? "2147483647" : "-2147483648";
        return std::to_string(int(pick(200)) - 100);
    }
    case col_type::int8: {
        static const char* ex[] = {"9223372036854775807", "-9223372036854775808", "9007199254740993",
                                   "9007199254740992", "-9007199254740993"};
        if (hard && chance(0.4)) return ex[pick(5)];
        return std::to_string(int64_t(pick(2000)) - 1000);
    }
    case col_type::numeric: {
        if (hard && chance(0.5)) {
            static const char* ex[] = {"12345678901234567890.123456789012345", "-0.000000000000000000000000000001",
                                       "1.10", "99999999999999999999999999999999.99", "0"};
            return ex[pick(5)];
        }
        int v = pick(200) - 100;
        std::string s = std::to_string(std::abs(v) / 2) + (std::abs(v) % 2 ? ".5" : "");
        return v < 0 && s != "0" ? "-" + s : s;
    }
    case col_type::float8: {
        if (hard && chance(0.5)) {
            static const char* ex[] = {"NaN", "Infinity", "-Infinity", "0.1", "1e308", "-0", "5e-324", "0.3333333333333333"};
            return ex[pick(8)];
        }
        return std::to_string(pick(80) - 40) + "." + std::string(chance(0.5) ? "25" : "5");
    }
    case col_type::text: return text();
    case col_type::boolean: return chance(0.5) ? "true" : "false";
    case col_type::timestamptz: {
        std::string s = timestamp_text();
        return s.back() == 'Z' || s.find('+', 19) != std::string::npos || s.find('-', 19) != std::string::npos ? s
                                                                                                         : s + "Z";
    }
    case col_type::jsonb: break;
    }
    throw std::invalid_argument("filter_literal: unsupported type");
}

std::string value_gen::literal(col_type t, bool nullable) {
    if (nullable && chance(0.15)) return "NULL";
    std::string v;
    switch (t) {
    case col_type::int4:
        if (hard && chance(0.3)) v = chance(0.5) ? "2147483647" : "-2147483648";
        else v = std::to_string(pick(200) - 100);
        break;
    case col_type::int8:
        if (hard && chance(0.5)) {
            static const char* ex[] = {"9223372036854775807", "-9223372036854775808", "9007199254740993",
                                       "-9007199254740993", "9007199254740992", "4611686018427387905"};
            v = chance(0.7) ? ex[pick(6)] : std::to_string(int64_t(next()));
        } else {
            v = std::to_string(int64_t(pick(2000)) - 1000);
        }
        break;
    case col_type::numeric:
        if (hard && chance(0.6)) {
            int digits = 30 + pick(10), scale = pick(digits);
            std::string d;
            for (int i = 0; i < digits; ++i) d += char('0' + (i == 0 ? 1 + pick(9) : pick(10)));
            if (scale) d.insert(d.end() - scale, '.');
            if (chance(0.3)) d = "0." + std::string(size_t(pick(25)), '0') + "1";
            if (chance(0.2)) d = "1.10";
            v = (chance(0.4) ? "-" : "") + d;
        } else {
            v = filter_literal(col_type::numeric);
        }
        break;
    case col_type::float8:
        if (hard && chance(0.5)) {
            static const char* ex[] = {"NaN", "Infinity", "-Infinity", "1e308", "-1.7976931348623157e308", "5e-324",
                                       "-0", "0.1", "0.3333333333333333", "123456789.12345678"};
            v = ex[pick(10)];
        } else {
            v = std::to_string(pick(80) - 40) + (chance(0.5) ? ".25" : ".5");
        }
        break;
    case col_type::text: v = text(); break;
    case col_type::boolean: v = chance(0.5) ? "true" : "false"; break;
    case col_type::timestamptz:
        v = timestamp_text();
        if (zones && chance(0.3)) v = v.substr(0, 26);  // no offset: the writer's session zone applies
        break;
    case col_type::jsonb:
        if (hard) {
            static const char* ex[] = {"null", "{\"a\": [1, 2.50, {\"b\": null}], \"\xc3\xbc\": \"x\\\"y\"}",
                                       "12345678901234567890123", "\"str\"", "[]", "{}", "{\"n\": -0.0001}",
                                       "true", "[9223372036854775808, -1.5e-7]"};
            v = ex[pick(9)];
        } else {
            v = chance(0.5) ? "{\"a\": 1}" : "{\"b\": \"x\"}";
        }
        break;
    }
    return sql_quote(v) + "::" + sql_type(t);
}

}  // namespace pglive::model
