// The grammar matcher and the JSON-schema compiler: what a schema accepts and refuses, random walks through the
// grammar always ending in JSON that matches the schema, and the token mask equal to testing each token alone.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "rwkv/error.h"
#include "rwkv/grammar.h"
#include "rwkv/tokenizer.h"
#include "test_paths.h"

namespace rwkv {
namespace {

using nlohmann::json;

bool accepts(const std::string& schema, const std::string& text) {
    return grammar_accepts(*json_schema_grammar(schema), text);
}

TEST(Grammar, RefusesLeftRecursion) {
    Grammar g;
    const uint32_t a = g.add_rule(), b = g.add_rule();
    std::vector<Grammar::Element> seq{Grammar::rule(b), g.byte('x')};
    g.add_alternative(a, seq);
    g.add_alternative(b, {});
    g.add_alternative(b, {Grammar::rule(a)});
    EXPECT_THROW(g.build(a), Error);
}

TEST(Grammar, RefusesARuleWithoutAlternatives) {
    Grammar g;
    const uint32_t a = g.add_rule();
    g.add_rule();
    g.add_alternative(a, {Grammar::rule(1)});
    EXPECT_THROW(g.build(a), Error);
}

TEST(JsonSchema, ScalarTypes) {
    EXPECT_TRUE(accepts(R"({"type":"integer"})", "-120"));
    EXPECT_TRUE(accepts(R"({"type":"integer"})", "0"));
    EXPECT_FALSE(accepts(R"({"type":"integer"})", "012"));
    EXPECT_FALSE(accepts(R"({"type":"integer"})", "1.5"));
    EXPECT_TRUE(accepts(R"({"type":"integer"})", "-1234567890123456"));   // 16 digits: within int64
    EXPECT_FALSE(accepts(R"({"type":"integer"})", "12345678901234567"));
    EXPECT_TRUE(accepts(R"({"type":"number"})", "-1.5e+10"));
    EXPECT_FALSE(accepts(R"({"type":"number"})", "1."));
    EXPECT_TRUE(accepts(R"({"type":"boolean"})", "false"));
    EXPECT_TRUE(accepts(R"({"type":"null"})", " null"));  // one leading space is allowed
    EXPECT_FALSE(accepts(R"({"type":"null"})", "  null"));
    EXPECT_TRUE(accepts(R"({"type":"string"})", R"("a \"q\" \u00e9 é ✓ 😀")"));
    EXPECT_FALSE(accepts(R"({"type":"string"})", "\"raw\nnewline\""));
    EXPECT_FALSE(accepts(R"({"type":"string"})", "\"bad \xC0\xAF utf8\""));  // overlong
    EXPECT_FALSE(accepts(R"({"type":"string"})", "\"\xED\xA0\x80\""));       // a surrogate
    EXPECT_TRUE(accepts(R"({"type":"string","minLength":2,"maxLength":3})", R"("é\n")"));
    EXPECT_FALSE(accepts(R"({"type":"string","minLength":2,"maxLength":3})", R"("a")"));
    EXPECT_FALSE(accepts(R"({"type":"string","minLength":2,"maxLength":3})", R"("abcd")"));
    EXPECT_TRUE(accepts(R"({"type":["string","null"]})", "null"));
    EXPECT_TRUE(accepts(R"({"enum":["red",2,null]})", R"("red")"));
    EXPECT_FALSE(accepts(R"({"enum":["red",2,null]})", R"("blue")"));
    EXPECT_TRUE(accepts(R"({"const":{"a":[1,2]}})", R"({"a":[1,2]})"));
}

TEST(JsonSchema, Objects) {
    const std::string s = R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},
        "tags":{"type":"array","items":{"type":"string"},"maxItems":2}},"required":["name"],"additionalProperties":false})";
    EXPECT_TRUE(accepts(s, R"({"name":"Ann"})"));
    EXPECT_TRUE(accepts(s, R"({"name": "Ann", "age": 3, "tags": ["x", "y"]})"));
    EXPECT_TRUE(accepts(s, "{\n  \"name\": \"Ann\",\n  \"tags\": []\n}"));
    EXPECT_FALSE(accepts(s, R"({"age":3})"));                         // name is required
    EXPECT_FALSE(accepts(s, R"({"name":"Ann","tags":["a","b","c"]})"));  // maxItems
    EXPECT_FALSE(accepts(s, R"({"name":"Ann","colour":"red"})"));     // not a property
    EXPECT_FALSE(accepts(s, R"({"name":"Ann",})"));
    EXPECT_FALSE(accepts(s, "{\n\n\"name\":\"Ann\"}"));  // two newlines never meet
    const std::string optional = R"({"properties":{"a":{"type":"integer"},"b":{"type":"integer"}}})";
    EXPECT_TRUE(accepts(optional, "{}"));
    EXPECT_TRUE(accepts(optional, R"({"b":1})"));
    EXPECT_TRUE(accepts(optional, R"({"a":1,"b":2})"));
    EXPECT_FALSE(accepts(optional, R"({"b":1,"a":2})"));  // the schema's order
    EXPECT_FALSE(accepts(optional, "{ \n}"));
    EXPECT_TRUE(accepts(R"({"type":"object"})", R"({"x":{"y":[1,"z",null,true]}})"));
    EXPECT_TRUE(accepts(R"({"type":"object","additionalProperties":{"type":"integer"}})", R"({"x":1,"y":2})"));
    EXPECT_FALSE(accepts(R"({"type":"object","additionalProperties":{"type":"integer"}})", R"({"x":"1"})"));
}

TEST(JsonSchema, RefsAndCombinations) {
    const std::string tree = R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},
        "kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v","kids"]}},"$ref":"#/$defs/node"})";
    EXPECT_TRUE(accepts(tree, R"({"v":1,"kids":[{"v":2,"kids":[]},{"v":3,"kids":[{"v":4,"kids":[]}]}]})"));
    EXPECT_FALSE(accepts(tree, R"({"v":1,"kids":[{"v":2}]})"));
    const std::string any = R"({"anyOf":[{"type":"integer"},{"type":"object","properties":{"k":{"const":"x"}},"required":["k"]}]})";
    EXPECT_TRUE(accepts(any, "7"));
    EXPECT_TRUE(accepts(any, R"({"k":"x"})"));
    EXPECT_FALSE(accepts(any, R"({"k":"y"})"));
    EXPECT_TRUE(accepts(R"({"allOf":[{"type":"boolean"}]})", "true"));
    EXPECT_TRUE(accepts("{}", R"([1,{"a":"b"}])"));
    EXPECT_TRUE(accepts("true", "null"));
}

TEST(JsonSchema, RefusesWhatItCannotEnforce) {
    for (const char* s : {R"({"type":"string","pattern":"^a"})", R"({"type":"integer","minimum":3})",
                          R"({"not":{}})", R"({"$ref":"https://example.com/x.json"})", R"({"$ref":"#/$defs/none"})",
                          R"({"type":"date"})", R"({"type":"string","maxLength":1e9})", R"({"enum":[]})", "false",
                          "[1,2]", "{not json", R"({"type":"object","required":["x"],"properties":{"a":{}}})",
                          R"({"type":"array","minItems":3,"maxItems":2})"})
        EXPECT_THROW(json_schema_grammar(s), Error) << s;
    // So many alternatives that every token would be tried against each of them is refused.
    std::string many = R"({"enum":[)";
    for (int i = 0; i < 1500; ++i) many += (i ? "," : "") + std::to_string(i);
    EXPECT_THROW(json_schema_grammar(many + "]}"), Error);
    // Deep nesting is refused, not a stack overflow.
    std::string deep;
    for (int i = 0; i < 100; ++i) deep += R"({"type":"array","items":)";
    deep += "{}";
    for (int i = 0; i < 100; ++i) deep += "}";
    EXPECT_THROW(json_schema_grammar(deep), Error);
}

// A tiny validator for the schemas the walks use.
bool matches(const json& v, const json& s, const json& root) {
    if (s.contains("$ref")) return matches(v, root.at(json::json_pointer(s["$ref"].get<std::string>().substr(1))), root);
    if (s.contains("enum")) {
        for (const json& e : s["enum"])
            if (e == v) return true;
        return false;
    }
    if (s.contains("anyOf")) {
        for (const json& sub : s["anyOf"])
            if (matches(v, sub, root)) return true;
        return false;
    }
    const std::string t = s.value("type", "");
    if (t == "integer") return v.is_number_integer();
    if (t == "number") return v.is_number();
    if (t == "string") {
        if (!v.is_string()) return false;
        // Length in code points.
        size_t n = 0;
        for (unsigned char c : v.get<std::string>()) n += (c & 0xC0) != 0x80;
        return n >= s.value("minLength", 0u) && n <= s.value("maxLength", 1u << 30);
    }
    if (t == "boolean") return v.is_boolean();
    if (t == "array") {
        if (!v.is_array() || v.size() < s.value("minItems", 0u) || v.size() > s.value("maxItems", 1u << 30)) return false;
        for (const json& x : v)
            if (!matches(x, s["items"], root)) return false;
        return true;
    }
    if (t == "object") {
        if (!v.is_object()) return false;
        for (const json& r : s.value("required", json::array()))
            if (!v.contains(r.get<std::string>())) return false;
        for (const auto& [k, x] : v.items())
            if (!s["properties"].contains(k) || !matches(x, s["properties"][k], root)) return false;
        return true;
    }
    return true;
}

// Random walks, a byte at a time (the "bytes" tokenizer: token = byte), choosing among the allowed bytes with
// structural ones favoured so that walks end; every walk that ends is JSON matching the schema.
TEST(JsonSchema, RandomWalksEndInMatchingJson) {
    const json schema = json::parse(R"({"$defs":{"item":{"type":"object","properties":{
        "id":{"type":"integer"},"label":{"type":"string","maxLength":5},"ok":{"type":"boolean"},
        "kind":{"enum":["a","b",3]},"score":{"type":"number"}},"required":["id","kind"]}},
        "type":"object","properties":{"items":{"type":"array","items":{"$ref":"#/$defs/item"},"minItems":1,"maxItems":3},
        "note":{"anyOf":[{"type":"string","minLength":1},{"type":"integer"}]}},"required":["items"]})");
    const auto tokenizer = load_tokenizer("bytes");
    const auto trie = std::make_shared<const TokenTrie>(*tokenizer);
    const auto grammar = json_schema_grammar(schema.dump());
    std::mt19937 rng(7);
    int ended = 0;
    for (int walk = 0; walk < 300; ++walk) {
        GrammarMatcher m(grammar, trie, tokenizer->eos_id());
        std::string text;
        for (int step = 0; step < 3000 && !m.must_end(); ++step) {
            std::vector<float> logits(tokenizer->vocab_size(), 0.0f);
            m.mask(logits.data(), logits.size());
            std::vector<double> w(logits.size());
            double total = 0;
            for (size_t t = 0; t < logits.size(); ++t) {
                if (std::isinf(logits[t])) continue;
                w[t] = std::string_view("\"]},:0123456789tfn").find(static_cast<char>(t)) != std::string_view::npos ? 20 : 1;
                if (static_cast<int32_t>(t) == tokenizer->eos_id()) w[t] = 50;
                total += w[t];
            }
            ASSERT_GT(total, 0) << "no token allowed after: " << text;
            const int32_t t = static_cast<int32_t>(std::discrete_distribution<size_t>(w.begin(), w.end())(rng));
            ASSERT_TRUE(m.allows(t));
            m.accept(t);
            if (t == tokenizer->eos_id()) break;
            text += static_cast<char>(t);
        }
        if (!m.must_end()) continue;
        ++ended;
        json v;
        ASSERT_NO_THROW(v = json::parse(text)) << text;
        EXPECT_TRUE(matches(v, schema, schema)) << text;
        EXPECT_EQ(text.find("\n\n"), std::string::npos);
    }
    EXPECT_GT(ended, 200);
}

// With a real vocabulary: the mask allows exactly the tokens allows() accepts, at several places in a reply,
// including the cached masks of a string's body.
TEST(GrammarMatcher, MaskEqualsEachTokenAlone) {
    const auto tokenizer = load_tokenizer(test::shared("testdata/tokenizer/rwkv_vocab_v20230424.txt"));
    const auto trie = std::make_shared<const TokenTrie>(*tokenizer);
    const auto grammar = json_schema_grammar(R"({"type":"object","properties":{"city":{"type":"string"},
        "n":{"type":"integer"}},"required":["city","n"]})");
    GrammarMatcher m(grammar, trie, tokenizer->eos_id());
    const std::vector<int32_t> reply = tokenizer->encode(R"( {"city": "Zürich am See", "n": 42})");
    for (size_t i = 0; i <= reply.size(); ++i) {
        std::vector<float> logits(tokenizer->vocab_size(), 1.0f);
        m.mask(logits.data(), logits.size());
        size_t allowed = 0;
        for (size_t t = 0; t < logits.size(); ++t) {
            const bool ok = !std::isinf(logits[t]);
            ASSERT_EQ(ok, m.allows(static_cast<int32_t>(t))) << "token " << t << " after " << i << " tokens";
            allowed += ok;
        }
        EXPECT_GT(allowed, 0u);
        if (i == reply.size()) {
            EXPECT_TRUE(m.must_end());
            EXPECT_TRUE(m.allows(tokenizer->eos_id()));
            break;
        }
        EXPECT_FALSE(m.allows(tokenizer->eos_id()));
        m.accept(reply[i]);
    }
    m.accept(tokenizer->eos_id());
    EXPECT_FALSE(m.allows(tokenizer->encode("x")[0]));
    // A token that leaves the grammar is refused.
    GrammarMatcher fresh(grammar, trie, tokenizer->eos_id());
    EXPECT_THROW(fresh.accept(tokenizer->encode("[")[0]), Error);
}

TEST(GrammarMatcher, AnyObject) {
    const auto tokenizer = load_tokenizer("bytes");
    const auto trie = std::make_shared<const TokenTrie>(*tokenizer);
    EXPECT_TRUE(grammar_accepts(*json_object_grammar(), R"( {"a": [1, {"b": null}]})"));
    EXPECT_FALSE(grammar_accepts(*json_object_grammar(), "[1]"));
    GrammarMatcher m(json_object_grammar(), trie, tokenizer->eos_id());
    EXPECT_FALSE(m.allows('x'));
    EXPECT_TRUE(m.allows('{'));
    EXPECT_TRUE(m.allows(' '));
}

}  // namespace
}  // namespace rwkv
