// exact_json.cpp — a JSON parser and serializer that keep number literals exactly.
#include "core/exact_json.h"

#include <charconv>
#include <limits>

namespace pglive {

namespace {

constexpr int max_depth = 10000;  // deeper than any row; guards the recursion

[[noreturn]] void fail(const char* what, const char* begin, const char* at) {
    throw exact_json_error(std::string("invalid JSON at byte ") + std::to_string(at - begin) + ": " + what);
}

// Length of a valid UTF-8 sequence starting at p (p < end, *p >= 0x80), or 0.
size_t utf8_length(const unsigned char* p, const unsigned char* end) {
    unsigned char c = p[0];
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07;
    else return 0;
    if (size_t(end - p) < n) return 0;
    for (size_t i = 1; i < n; ++i) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

// The end of the number literal starting at p, or nullptr when it is not one.
const char* scan_number(const char* p, const char* end, bool& integral) {
    integral = true;
    if (p < end && *p == '-') ++p;
    if (p == end) return nullptr;
    if (*p == '0') {
        ++p;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') ++p;
    } else {
        return nullptr;
    }
    if (p < end && *p == '.') {
        integral = false;
        ++p;
        if (p == end || *p < '0' || *p > '9') return nullptr;
        while (p < end && *p >= '0' && *p <= '9') ++p;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        integral = false;
        ++p;
        if (p < end && (*p == '+' || *p == '-')) ++p;
        if (p == end || *p < '0' || *p > '9') return nullptr;
        while (p < end && *p >= '0' && *p <= '9') ++p;
    }
    return p;
}

json make_exact(const char* b, const char* e) {
    std::vector<std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(b), reinterpret_cast<const std::uint8_t*>(e));
    return json::binary(std::move(bytes), exact_number_subtype);
}

// A number literal as nlohmann would hold it when that loses nothing, else as an exact number.
json number_value(const char* b, const char* e, bool integral) {
    if (integral) {
        if (*b == '-') {
            int64_t v = 0;
            auto r = std::from_chars(b, e, v);
            if (r.ec == std::errc() && r.ptr == e && v != 0) return json(v);  // "-0" stays a literal
        } else {
            uint64_t v = 0;
            auto r = std::from_chars(b, e, v);
            if (r.ec == std::errc() && r.ptr == e) return json(v);
        }
    }
    return make_exact(b, e);
}

struct parser {
    const char* begin;
    const char* p;
    const char* end;

    void ws() {
        while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
    }

    unsigned hex4() {
        if (end - p < 4) fail("truncated \\u escape", begin, p);
        unsigned v = 0;
        for (int i = 0; i < 4; ++i) {
            char c = *p++;
            v <<= 4;
            if (c >= '0' && c <= '9') v |= unsigned(c - '0');
            else if (c >= 'a' && c <= 'f') v |= unsigned(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v |= unsigned(c - 'A' + 10);
            else fail("bad \\u escape", begin, p - 1);
        }
        return v;
    }

    std::string string_body() {  // after the opening quote
        std::string out;
        for (;;) {
            const char* run = p;
            while (p < end) {
                unsigned char c = static_cast<unsigned char>(*p);
                if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
                ++p;
            }
            out.append(run, p);
            if (p == end) fail("unterminated string", begin, p);
            unsigned char c = static_cast<unsigned char>(*p);
            if (c == '"') {
                ++p;
                return out;
            }
            if (c < 0x20) fail("control character in a string", begin, p);
            if (c >= 0x80) {
                size_t n = utf8_length(reinterpret_cast<const unsigned char*>(p), reinterpret_cast<const unsigned char*>(end));
                if (n == 0) fail("invalid UTF-8 in a string", begin, p);
                out.append(p, n);
                p += n;
                continue;
            }
            ++p;  // backslash
            if (p == end) fail("unterminated string", begin, p);
            char e = *p++;
            switch (e) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                uint32_t cp = hex4();
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u') fail("unpaired surrogate", begin, p);
                    p += 2;
                    uint32_t lo = hex4();
                    if (lo < 0xDC00 || lo > 0xDFFF) fail("unpaired surrogate", begin, p);
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    fail("unpaired surrogate", begin, p);
                }
                append_utf8(out, cp);
                break;
            }
            default: fail("bad escape", begin, p - 1);
            }
        }
    }

    bool word(const char* w, size_t n) {
        if (size_t(end - p) < n || std::string_view(p, n) != std::string_view(w, n)) return false;
        p += n;
        return true;
    }

    json value(int depth) {
        if (depth > max_depth) fail("nested too deeply", begin, p);
        ws();
        if (p == end) fail("unexpected end", begin, p);
        switch (*p) {
        case '{': {
            ++p;
            json obj = json::object();
            ws();
            if (p < end && *p == '}') {
                ++p;
                return obj;
            }
            for (;;) {
                ws();
                if (p == end || *p != '"') fail("expected a member name", begin, p);
                ++p;
                std::string k = string_body();
                ws();
                if (p == end || *p != ':') fail("expected ':'", begin, p);
                ++p;
                obj[std::move(k)] = value(depth + 1);
                ws();
                if (p < end && *p == ',') {
                    ++p;
                    continue;
                }
                if (p < end && *p == '}') {
                    ++p;
                    return obj;
                }
                fail("expected ',' or '}'", begin, p);
            }
        }
        case '[': {
            ++p;
            json arr = json::array();
            ws();
            if (p < end && *p == ']') {
                ++p;
                return arr;
            }
            for (;;) {
                arr.push_back(value(depth + 1));
                ws();
                if (p < end && *p == ',') {
                    ++p;
                    continue;
                }
                if (p < end && *p == ']') {
                    ++p;
                    return arr;
                }
                fail("expected ',' or ']'", begin, p);
            }
        }
        case '"':
            ++p;
            return json(string_body());
        case 't':
            if (word("true", 4)) return json(true);
            break;
        case 'f':
            if (word("false", 5)) return json(false);
            break;
        case 'n':
            if (word("null", 4)) return json(nullptr);
            break;
        default: {
            bool integral = true;
            const char* e = scan_number(p, end, integral);
            if (!e) break;
            const char* b = p;
            p = e;
            return number_value(b, e, integral);
        }
        }
        fail("unexpected character", begin, p);
    }
};

const char hex_digits[] = "0123456789abcdef";

// Escapes like nlohmann's dump() (ensure_ascii off): \" \\ \b \f \n \r \t, other controls \u00xx.
void escape_into(const std::string& s, std::string& out) {
    out += '"';
    const char* p = s.data();
    const char* end = p + s.size();
    while (p < end) {
        const char* run = p;
        while (p < end) {
            unsigned char c = static_cast<unsigned char>(*p);
            if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
            ++p;
        }
        out.append(run, p);
        if (p == end) break;
        unsigned char c = static_cast<unsigned char>(*p);
        if (c >= 0x80) {
            size_t n = utf8_length(reinterpret_cast<const unsigned char*>(p), reinterpret_cast<const unsigned char*>(end));
            if (n == 0) {
                out += json(s).dump();  // throws type_error 316, as dump() would
                return;
            }
            out.append(p, n);
            p += n;
            continue;
        }
        ++p;
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            out += "\\u00";
            out += hex_digits[c >> 4];
            out += hex_digits[c & 0xF];
        }
    }
    out += '"';
}

}  // namespace

json parse_exact(std::string_view text) {
    parser ps{text.data(), text.data(), text.data() + text.size()};
    json v = ps.value(0);
    ps.ws();
    if (ps.p != ps.end) fail("text after the value", ps.begin, ps.p);
    return v;
}

bool valid_number_literal(std::string_view s) {
    bool integral;
    const char* e = scan_number(s.data(), s.data() + s.size(), integral);
    return e && e == s.data() + s.size();
}

json exact_number(std::string_view literal) {
    if (!valid_number_literal(literal)) throw std::invalid_argument("not a JSON number literal");
    return make_exact(literal.data(), literal.data() + literal.size());
}

bool is_exact_number(const json& v) {
    return v.is_binary() && v.get_binary().has_subtype() && v.get_binary().subtype() == exact_number_subtype;
}

std::string_view exact_literal(const json& v) {
    if (!is_exact_number(v)) return {};
    const auto& b = v.get_binary();
    return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

json sql_null() { return json::binary({}, sql_null_subtype); }

bool is_sql_null(const json& v) {
    return v.is_binary() && v.get_binary().has_subtype() && v.get_binary().subtype() == sql_null_subtype;
}

void restore_sql_nulls(json& row, const std::vector<std::string>& json_columns) {
    if (json_columns.empty() || !row.is_object()) return;
    for (auto& c : json_columns)
        if (row.find(c) == row.end()) row[c] = sql_null();
}

bool is_any_number(const json& v) { return v.is_number() || is_exact_number(v); }

std::string number_text(const json& v) {
    if (is_exact_number(v)) return std::string(exact_literal(v));
    return v.dump();
}

void dump_exact(const json& v, std::string& out) {
    switch (v.type()) {
    case json::value_t::object: {
        out += '{';
        bool first = true;
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (!first) out += ',';
            first = false;
            escape_into(it.key(), out);
            out += ':';
            dump_exact(it.value(), out);
        }
        out += '}';
        return;
    }
    case json::value_t::array: {
        out += '[';
        bool first = true;
        for (auto& e : v) {
            if (!first) out += ',';
            first = false;
            dump_exact(e, out);
        }
        out += ']';
        return;
    }
    case json::value_t::string: escape_into(v.get_ref<const std::string&>(), out); return;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: {
        char buf[24];
        auto r = v.is_number_unsigned() ? std::to_chars(buf, buf + sizeof buf, v.get<uint64_t>())
                                        : std::to_chars(buf, buf + sizeof buf, v.get<int64_t>());
        out.append(buf, r.ptr);
        return;
    }
    case json::value_t::binary: {
        std::string_view lit = exact_literal(v);
        // Raw only when it is a number literal: never a way to splice JSON into a frame.
        if (is_exact_number(v) && valid_number_literal(lit)) out.append(lit.data(), lit.size());
        else out += "null";
        return;
    }
    default: out += v.dump(); return;  // null, booleans, doubles (none come from rows), discarded
    }
}

std::string dump_exact(const json& v) {
    std::string out;
    dump_exact(v, out);
    return out;
}

}  // namespace pglive
