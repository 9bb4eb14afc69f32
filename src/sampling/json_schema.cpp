// A JSON schema as a grammar over bytes (see rwkv/grammar.h for what is enforced).
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "rwkv/error.h"
#include "rwkv/grammar.h"

namespace rwkv {

namespace {

using json = nlohmann::ordered_json;  // properties keep the schema's order
using Element = Grammar::Element;
using Seq = std::vector<Element>;

// Bounds on what a schema may ask for, so a hostile schema cannot make a grammar of unbounded size.
constexpr int64_t kMaxBound = 4096;   // minLength, maxLength, minItems, maxItems
constexpr int kMaxDepth = 64;         // schemas inside schemas
constexpr size_t kMaxRules = 200000;
constexpr size_t kMaxAlternatives = 1024;  // enum values, anyOf/oneOf schemas: the matcher follows each at once

class SchemaCompiler {
public:
    explicit SchemaCompiler(const json& root) : root_(root) {}

    std::shared_ptr<const Grammar> compile(const json& schema) {
        const uint32_t start = g_.add_rule();
        Seq seq;
        // One optional space first: World/G1 replies start after "Assistant:", usually with a space.
        seq.push_back(Grammar::rule(optional_space()));
        seq.push_back(Grammar::rule(value(schema, 0)));
        g_.add_alternative(start, seq);
        g_.build(start);
        return std::make_shared<const Grammar>(std::move(g_));
    }

    std::shared_ptr<const Grammar> compile_any_object() {
        const uint32_t start = g_.add_rule();
        g_.add_alternative(start, {Grammar::rule(optional_space()), Grammar::rule(free_object())});
        g_.build(start);
        return std::make_shared<const Grammar>(std::move(g_));
    }

private:
    Grammar g_;
    const json& root_;
    std::map<std::string, uint32_t> refs_;
    std::map<std::string, uint32_t> named_;  // shared helper rules

    [[noreturn]] static void unsupported(const std::string& what) {
        throw Error("json schema: " + what);
    }

    uint32_t rule() {
        if (g_.rule_count() >= kMaxRules) unsupported("the schema makes too large a grammar");
        return g_.add_rule();
    }
    uint32_t alternatives(const std::vector<Seq>& alts) {
        const uint32_t r = rule();
        for (const Seq& s : alts) g_.add_alternative(r, s);
        return r;
    }
    Seq lit(std::string_view text) {
        Seq s;
        g_.append_literal(s, text);
        return s;
    }
    static Seq cat(std::initializer_list<Seq> parts) {
        Seq out;
        for (const Seq& p : parts) out.insert(out.end(), p.begin(), p.end());
        return out;
    }
    static Seq ref(uint32_t r) { return {Grammar::rule(r)}; }
    Seq set(uint8_t lo, uint8_t hi) {
        ByteSet s;
        s.add_range(lo, hi);
        return {g_.bytes(s)};
    }

    // A helper rule made once.
    template <typename Make>
    uint32_t once(const std::string& name, Make make) {
        if (auto it = named_.find(name); it != named_.end()) return it->second;
        const uint32_t r = rule();
        named_[name] = r;
        make(r);
        return r;
    }

    // x* as right recursion: R ::= x R | ε.
    uint32_t star(const Seq& x) {
        const uint32_t r = rule();
        g_.add_alternative(r, cat({x, ref(r)}));
        g_.add_alternative(r, {});
        return r;
    }
    // x{lo,hi} (hi < 0: unbounded).
    Seq repeat(const Seq& x, int64_t lo, int64_t hi) {
        Seq out;
        for (int64_t i = 0; i < lo; ++i) out = cat({out, x});
        if (hi < 0) return cat({out, ref(star(x))});
        // Up to hi - lo more: O_k ::= x O_{k-1} | ε.
        uint32_t tail = 0;
        bool have = false;
        for (int64_t k = 0; k < hi - lo; ++k) {
            const uint32_t r = rule();
            g_.add_alternative(r, have ? cat({x, ref(tail)}) : x);
            g_.add_alternative(r, {});
            tail = r;
            have = true;
        }
        return have ? cat({out, ref(tail)}) : out;
    }

    uint32_t optional_space() {
        return once("space?", [&](uint32_t r) {
            g_.add_alternative(r, {});
            g_.add_alternative(r, lit(" "));
        });
    }
    // Between tokens: nothing, a space, or a newline and up to 16 spaces of indentation.
    uint32_t ws() {
        return once("ws", [&](uint32_t r) {
            g_.add_alternative(r, {});
            g_.add_alternative(r, lit(" "));
            g_.add_alternative(r, cat({lit("\n"), repeat(lit(" "), 0, 16)}));
        });
    }
    Seq w() { return ref(ws()); }

    // One character of a JSON string's body: printable ASCII but '"' and '\', an escape, or a well-formed UTF-8
    // sequence (no overlong forms, no surrogates).
    uint32_t string_char() {
        return once("char", [&](uint32_t r) {
            ByteSet ascii;
            ascii.add_range(0x20, 0x7F);
            ascii.bits[0x22 >> 6] &= ~(uint64_t{1} << (0x22 & 63));
            ascii.bits[0x5C >> 6] &= ~(uint64_t{1} << (0x5C & 63));
            g_.add_alternative(r, {g_.bytes(ascii)});
            const Seq cont = set(0x80, 0xBF);
            g_.add_alternative(r, cat({set(0xC2, 0xDF), cont}));
            g_.add_alternative(r, cat({lit("\xE0"), set(0xA0, 0xBF), cont}));
            g_.add_alternative(r, cat({set(0xE1, 0xEC), cont, cont}));
            g_.add_alternative(r, cat({lit("\xED"), set(0x80, 0x9F), cont}));
            g_.add_alternative(r, cat({set(0xEE, 0xEF), cont, cont}));
            g_.add_alternative(r, cat({lit("\xF0"), set(0x90, 0xBF), cont, cont}));
            g_.add_alternative(r, cat({set(0xF1, 0xF3), cont, cont, cont}));
            g_.add_alternative(r, cat({lit("\xF4"), set(0x80, 0x8F), cont, cont}));
            ByteSet esc;
            for (char c : std::string_view("\"\\/bfnrt")) esc.add(static_cast<uint8_t>(c));
            g_.add_alternative(r, cat({lit("\\"), {g_.bytes(esc)}}));
            ByteSet hex;
            hex.add_range('0', '9');
            hex.add_range('a', 'f');
            hex.add_range('A', 'F');
            const Seq h{g_.bytes(hex)};
            g_.add_alternative(r, cat({lit("\\u"), h, h, h, h}));
        });
    }

    uint32_t string(int64_t min_len, int64_t max_len) {
        if (min_len == 0 && max_len < 0)
            return once("string", [&](uint32_t r) { g_.add_alternative(r, cat({lit("\""), ref(star(ref(string_char()))), lit("\"")})); });
        return alternatives({cat({lit("\""), repeat(ref(string_char()), min_len, max_len), lit("\"")})});
    }

    uint32_t integer() {
        return once("integer", [&](uint32_t r) {
            const uint32_t minus = alternatives({{}, lit("-")});
            g_.add_alternative(r, cat({ref(minus), lit("0")}));
            g_.add_alternative(r, cat({ref(minus), set('1', '9'), repeat(set('0', '9'), 0, 15)}));
        });
    }

    uint32_t number() {
        return once("number", [&](uint32_t r) {
            const Seq digit = set('0', '9');
            const uint32_t frac = alternatives({{}, cat({lit("."), digit, ref(star(digit))})});
            ByteSet e;
            e.add('e');
            e.add('E');
            ByteSet sign;
            sign.add('+');
            sign.add('-');
            const uint32_t opt_sign = alternatives({{}, {g_.bytes(sign)}});
            // At most two exponent digits: every number stays within a double.
            const uint32_t exp = alternatives({{}, cat({{g_.bytes(e)}, ref(opt_sign), digit, repeat(digit, 0, 1)})});
            g_.add_alternative(r, cat({ref(integer()), ref(frac), ref(exp)}));
        });
    }

    uint32_t literal_rule(const std::string& text) { return alternatives({lit(text)}); }

    // Any JSON value, any object, any array.
    uint32_t free_value() {
        return once("value", [&](uint32_t r) {
            g_.add_alternative(r, ref(free_object()));
            g_.add_alternative(r, ref(free_array()));
            g_.add_alternative(r, ref(string(0, -1)));
            g_.add_alternative(r, ref(number()));
            g_.add_alternative(r, lit("true"));
            g_.add_alternative(r, lit("false"));
            g_.add_alternative(r, lit("null"));
        });
    }
    uint32_t free_object() {
        return once("object", [&](uint32_t r) { fill_map(r, free_value()); });
    }
    uint32_t free_array() {
        return once("array", [&](uint32_t r) { fill_list(r, ref(free_value()), 0, -1); });
    }
    // { "key": V, ... } with any keys.
    void fill_map(uint32_t r, uint32_t value_rule) {
        const Seq member = cat({ref(string(0, -1)), w(), lit(":"), w(), ref(value_rule)});
        g_.add_alternative(r, cat({lit("{"), w(), lit("}")}));
        g_.add_alternative(r, cat({lit("{"), w(), member, ref(star(cat({w(), lit(","), w(), member}))), w(), lit("}")}));
    }
    // [ x, ... ] with min..max items (max < 0: unbounded).
    void fill_list(uint32_t r, const Seq& item, int64_t min_items, int64_t max_items) {
        if (min_items == 0) g_.add_alternative(r, cat({lit("["), w(), lit("]")}));
        if (max_items == 0) return;
        const Seq more = cat({w(), lit(","), w(), item});
        const int64_t lo = std::max<int64_t>(min_items, 1) - 1;
        const int64_t hi = max_items < 0 ? -1 : max_items - 1;
        g_.add_alternative(r, cat({lit("["), w(), item, repeat(more, lo, hi), w(), lit("]")}));
    }

    static int64_t bound(const json& s, const char* key, int64_t fallback) {
        const auto it = s.find(key);
        if (it == s.end()) return fallback;
        if (!it->is_number_unsigned() || it->get<uint64_t>() > static_cast<uint64_t>(kMaxBound))
            unsupported(std::string("'") + key + "' must be an integer from 0 to " + std::to_string(kMaxBound));
        return it->get<int64_t>();
    }

    const json& resolve(const std::string& pointer) {
        if (pointer.rfind("#", 0) != 0) unsupported("'$ref' " + pointer + " is not in this schema (only #/... references)");
        try {
            const json::json_pointer p(pointer.substr(1));
            return root_.at(p);
        } catch (const std::exception&) {
            unsupported("'$ref' " + pointer + " names nothing in the schema");
        }
    }

    uint32_t value(const json& s, int depth) {
        if (depth > kMaxDepth) unsupported("schemas nested more than " + std::to_string(kMaxDepth) + " deep");
        if (s.is_boolean()) {
            if (!s.get<bool>()) unsupported("the schema 'false' matches nothing");
            return free_value();
        }
        if (!s.is_object()) unsupported("a schema must be an object or a boolean, not " + s.dump());
        static const std::set<std::string> kIgnored = {
            "$schema", "$id", "$comment", "title", "description", "default", "examples", "format", "$defs",
            "definitions", "deprecated", "readOnly", "writeOnly", "contentEncoding", "contentMediaType", "strict"};
        static const std::set<std::string> kKnown = {
            "type", "enum", "const", "properties", "required", "additionalProperties", "items", "minItems", "maxItems",
            "minLength", "maxLength", "anyOf", "oneOf", "allOf", "$ref", "nullable"};
        for (const auto& [key, v] : s.items())
            if (!kIgnored.count(key) && !kKnown.count(key)) unsupported("'" + key + "' is not supported");

        if (const auto it = s.find("$ref"); it != s.end()) {
            if (!it->is_string()) unsupported("'$ref' must be a string");
            const std::string p = it->get<std::string>();
            if (auto hit = refs_.find(p); hit != refs_.end()) return hit->second;
            const uint32_t r = rule();
            refs_[p] = r;  // before compiling the target, so a recursive schema refers back to this rule
            g_.add_alternative(r, ref(value(resolve(p), depth + 1)));
            return r;
        }
        if (const auto it = s.find("const"); it != s.end()) return literal_rule(it->dump());
        if (const auto it = s.find("enum"); it != s.end()) {
            if (!it->is_array() || it->empty()) unsupported("'enum' must be a non-empty array");
            if (it->size() > kMaxAlternatives)
                unsupported("'enum' has more than " + std::to_string(kMaxAlternatives) + " values");
            std::vector<Seq> alts;
            for (const json& v : *it) alts.push_back(lit(v.dump()));
            return alternatives(alts);
        }
        for (const char* key : {"anyOf", "oneOf"})
            if (const auto it = s.find(key); it != s.end()) {
                if (!it->is_array() || it->empty()) unsupported(std::string("'") + key + "' must be a non-empty array");
                if (it->size() > kMaxAlternatives)
                    unsupported(std::string("'") + key + "' has more than " + std::to_string(kMaxAlternatives) + " schemas");
                std::vector<Seq> alts;
                for (const json& sub : *it) alts.push_back(ref(value(sub, depth + 1)));
                return alternatives(alts);
            }
        if (const auto it = s.find("allOf"); it != s.end()) {
            if (!it->is_array() || it->size() != 1) unsupported("'allOf' is supported with one schema only");
            return value((*it)[0], depth + 1);
        }

        std::vector<std::string> types;
        if (const auto it = s.find("type"); it != s.end()) {
            if (it->is_string()) {
                types.push_back(it->get<std::string>());
            } else if (it->is_array()) {
                for (const json& t : *it) {
                    if (!t.is_string()) unsupported("'type' must name types");
                    types.push_back(t.get<std::string>());
                }
            } else {
                unsupported("'type' must be a string or an array");
            }
        } else if (s.contains("properties") || s.contains("additionalProperties")) {
            types.push_back("object");
        } else if (s.contains("items")) {
            types.push_back("array");
        } else {
            return free_value();
        }
        if (s.value("nullable", false)) types.push_back("null");
        std::vector<Seq> alts;
        for (const std::string& t : types) alts.push_back(ref(typed(s, t, depth)));
        return alts.size() == 1 ? alts[0][0].index : alternatives(alts);
    }

    uint32_t typed(const json& s, const std::string& type, int depth) {
        if (type == "string") return string(bound(s, "minLength", 0), bound(s, "maxLength", -1));
        if (type == "integer") return integer();
        if (type == "number") return number();
        if (type == "boolean") return alternatives({lit("true"), lit("false")});
        if (type == "null") return literal_rule("null");
        if (type == "array") {
            const uint32_t item = s.contains("items") ? value(s["items"], depth + 1) : free_value();
            const int64_t lo = bound(s, "minItems", 0), hi = bound(s, "maxItems", -1);
            if (hi >= 0 && hi < lo) unsupported("'maxItems' is below 'minItems'");
            const uint32_t r = rule();
            fill_list(r, ref(item), lo, hi);
            return r;
        }
        if (type == "object") return object(s, depth);
        unsupported("'type' " + type + " is not a JSON type");
    }

    uint32_t object(const json& s, int depth) {
        const auto props = s.find("properties");
        if (props == s.end() || props->empty()) {
            const auto extra = s.find("additionalProperties");
            const uint32_t r = rule();
            if (extra != s.end() && extra->is_boolean() && !extra->get<bool>())
                g_.add_alternative(r, cat({lit("{"), w(), lit("}")}));
            else
                fill_map(r, extra == s.end() || extra->is_boolean() ? free_value() : value(*extra, depth + 1));
            return r;
        }
        if (!props->is_object()) unsupported("'properties' must be an object");
        std::set<std::string> required;
        if (const auto it = s.find("required"); it != s.end()) {
            if (!it->is_array()) unsupported("'required' must be an array");
            for (const json& k : *it) {
                if (!k.is_string() || !props->contains(k.get<std::string>()))
                    unsupported("'required' names " + k.dump() + ", which is not among the properties");
                required.insert(k.get<std::string>());
            }
        }
        // Members in the schema's order; the optional ones may be left out. rest[i] reads the members from i on
        // after one was written (each with its comma); some[i] the first member written and the rest.
        std::vector<std::pair<std::string, Seq>> members;
        for (const auto& [key, sub] : props->items())
            members.push_back({key, cat({lit(json(key).dump()), w(), lit(":"), w(), ref(value(sub, depth + 1))})});
        const size_t n = members.size();
        std::vector<uint32_t> rest(n + 1);
        rest[n] = alternatives({{}});
        for (size_t i = n; i-- > 0;) {
            std::vector<Seq> alts{cat({w(), lit(","), w(), members[i].second, ref(rest[i + 1])})};
            if (!required.count(members[i].first)) alts.push_back(ref(rest[i + 1]));
            rest[i] = alternatives(alts);
        }
        // At least one member, so that an empty object is only "{" ws "}" and two whitespace runs never meet.
        uint32_t some = 0;
        for (size_t i = n; i-- > 0;) {
            std::vector<Seq> alts{cat({members[i].second, ref(rest[i + 1])})};
            if (!required.count(members[i].first) && i + 1 < n) alts.push_back(ref(some));
            some = alternatives(alts);
        }
        std::vector<Seq> alts{cat({lit("{"), w(), ref(some), w(), lit("}")})};
        if (required.empty()) alts.push_back(cat({lit("{"), w(), lit("}")}));
        return alternatives(alts);
    }
};

}  // namespace

std::shared_ptr<const Grammar> json_schema_grammar(std::string_view schema_json) {
    json schema;
    try {
        schema = json::parse(schema_json);
    } catch (const json::exception& e) {
        throw Error(std::string("json schema: not valid JSON: ") + e.what());
    }
    return SchemaCompiler(schema).compile(schema);
}

std::shared_ptr<const Grammar> json_object_grammar() {
    const json none;
    return SchemaCompiler(none).compile_any_object();
}

}  // namespace rwkv
