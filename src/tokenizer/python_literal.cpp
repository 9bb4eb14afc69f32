#include "tokenizer/python_literal.h"

#include <cstdint>

#include "tokenizer/utf8_internal.h"

namespace rwkv::tok {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Reads exactly `digits` hex digits at body[i]; -1 when they are not all there.
int64_t read_hex(std::string_view body, size_t i, size_t digits) {
    if (i + digits > body.size()) return -1;
    int64_t v = 0;
    for (size_t k = 0; k < digits; ++k) {
        const int h = hex_value(body[i + k]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

// In a str an escape names a code point, which is stored UTF-8 encoded; in bytes it names a byte.
bool put_value(std::string& out, int64_t v, bool is_bytes, std::string& error) {
    if (is_bytes) {
        if (v > 0xFF) {
            error = "byte escape above \\xff in a bytes literal";
            return false;
        }
        out += static_cast<char>(v);
        return true;
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        error = "escape names a code point that cannot be UTF-8 encoded";
        return false;
    }
    utf8_append(out, static_cast<uint32_t>(v));
    return true;
}

}  // namespace

bool parse_python_literal(std::string_view lit, std::string& out, std::string& error) {
    out.clear();
    bool is_bytes = false;
    size_t pos = 0;
    if (pos < lit.size() && (lit[pos] == 'b' || lit[pos] == 'B')) {
        is_bytes = true;
        ++pos;
    }
    if (pos >= lit.size() || (lit[pos] != '\'' && lit[pos] != '"')) {
        error = "literal does not start with a quote";
        return false;
    }
    const char quote = lit[pos];
    if (lit.size() < pos + 2 || lit.back() != quote) {
        error = "literal is not closed by its quote";
        return false;
    }
    const std::string_view body = lit.substr(pos + 1, lit.size() - pos - 2);
    for (size_t i = 0; i < body.size();) {
        const char c = body[i];
        if (c == quote) {
            error = "unescaped quote inside the literal";
            return false;
        }
        if (c != '\\') {
            int32_t cp;
            const size_t len = utf8_next(body, i, cp);
            if (cp < 0) {
                error = "invalid UTF-8 inside the literal";
                return false;
            }
            if (is_bytes && cp >= 0x80) {
                error = "non-ASCII character inside a bytes literal";
                return false;
            }
            out.append(body.data() + i, len);
            i += len;
            continue;
        }
        if (i + 1 >= body.size()) {
            error = "literal ends in a lone backslash";
            return false;
        }
        const char e = body[i + 1];
        i += 2;
        switch (e) {
            case '\\': out += '\\'; continue;
            case '\'': out += '\''; continue;
            case '"': out += '"'; continue;
            case 'n': out += '\n'; continue;
            case 't': out += '\t'; continue;
            case 'r': out += '\r'; continue;
            case 'a': out += '\a'; continue;
            case 'b': out += '\b'; continue;
            case 'f': out += '\f'; continue;
            case 'v': out += '\v'; continue;
            default: break;
        }
        int64_t v = -1;
        if (e >= '0' && e <= '7') {
            v = e - '0';
            for (int k = 0; k < 2 && i < body.size() && body[i] >= '0' && body[i] <= '7'; ++k, ++i)
                v = v * 8 + (body[i] - '0');
        } else if (e == 'x' || (!is_bytes && (e == 'u' || e == 'U'))) {
            const size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            v = read_hex(body, i, digits);
            if (v < 0) {
                error = std::string("truncated \\") + e + " escape";
                return false;
            }
            i += digits;
        } else if (!is_bytes && e == 'N') {
            error = "\\N{...} escapes are not supported";
            return false;
        } else {
            // Python keeps an unrecognised escape as written, backslash included.
            out += '\\';
            i -= 1;
            continue;
        }
        if (!put_value(out, v, is_bytes, error)) return false;
    }
    return true;
}

}  // namespace rwkv::tok
