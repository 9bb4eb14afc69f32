#pragma once
// Constrained decoding: a grammar over bytes, and a matcher that, before each token is drawn, sets the logits of
// every token that cannot continue the text within the grammar to -inf. A JSON schema compiles into such a grammar,
// so the output always parses and matches the schema (the server's response_format and tool calls, and
// `rwkv generate --json-schema`).
//
// The grammar is context-free: rules of alternatives, each a sequence of byte sets and rule references (no left
// recursion). The matcher keeps every way the text so far can be read as a set of stacks (as llama.cpp's grammar
// sampler does); a token is allowed when its bytes, fed one by one, leave some stack alive, which the matcher finds
// by walking a trie of the vocabulary's token bytes, pruning at the first byte no stack accepts.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rwkv {

class Tokenizer;

// A set of byte values.
struct ByteSet {
    std::array<uint64_t, 4> bits{};
    bool has(uint8_t b) const { return (bits[b >> 6] >> (b & 63)) & 1; }
    void add(uint8_t b) { bits[b >> 6] |= uint64_t{1} << (b & 63); }
    void add_range(uint8_t lo, uint8_t hi) {
        for (int b = lo; b <= hi; ++b) add(static_cast<uint8_t>(b));
    }
    bool operator==(const ByteSet&) const = default;
};

class Grammar {
public:
    // An element of an alternative: a byte set, a rule, or the alternative's end.
    struct Element {
        enum Kind : uint8_t { Bytes, Rule, End } kind;
        uint32_t index;  // into sets() for Bytes, into the rules for Rule
    };

    // Building: rules are numbered as they are made; rule 0 is the start once build() is called.
    uint32_t add_rule();
    void add_alternative(uint32_t rule, const std::vector<Element>& elements);
    Element bytes(const ByteSet& set);
    Element byte(uint8_t b);
    static Element rule(uint32_t r) { return {Element::Rule, r}; }
    // Appends the bytes of `text` as single-byte elements.
    void append_literal(std::vector<Element>& seq, std::string_view text);
    // Checks that every rule has an alternative and every reference exists, and that no rule can reach itself
    // without reading a byte (left recursion); rwkv::Error otherwise. `start` becomes the start rule.
    void build(uint32_t start);

    // Reading.
    uint32_t start() const { return start_; }
    size_t rule_count() const { return rules_.size(); }
    const std::vector<uint32_t>& alternatives(uint32_t rule) const { return rules_[rule]; }  // offsets into elements()
    const std::vector<Element>& elements() const { return elements_; }
    const std::vector<ByteSet>& sets() const { return sets_; }

private:
    std::vector<std::vector<uint32_t>> rules_;
    std::vector<Element> elements_;
    std::vector<ByteSet> sets_;
    uint32_t start_ = 0;
    bool built_ = false;
};

// Any JSON value ("json_object": any JSON object) or one that matches a JSON schema (draft 2020-12 subset: type,
// enum, const, properties, required, additionalProperties, items, minItems, maxItems, minLength, maxLength, anyOf,
// oneOf, allOf of one, $ref to #/$defs or #/definitions; integers of at most 16 digits (within int64) and exponents of two; annotations such as title, description and format are
// accepted and not enforced). Properties come in the schema's order; whitespace is at most one space, or a newline
// and up to 16 spaces, so two newlines in a row never appear. rwkv::Error naming the keyword for a schema it cannot
// enforce (pattern, minimum, ...), one too large to follow (more than 1024 enum values or anyOf schemas, bounds over
// 4096, nesting past 64), or one that is not valid JSON.
std::shared_ptr<const Grammar> json_schema_grammar(std::string_view schema_json);
std::shared_ptr<const Grammar> json_object_grammar();
// Exposed for tests: the grammar accepts `text` as a whole.
bool grammar_accepts(const Grammar& grammar, std::string_view text);

// The bytes of every token of a vocabulary as a trie, built once per tokenizer and shared by the matchers.
class TokenTrie {
public:
    explicit TokenTrie(const Tokenizer& tokenizer);
    struct Node {
        uint32_t first_child = 0, child_count = 0;  // into nodes(), sorted by byte
        uint8_t byte = 0;
        int32_t token = -1;  // the token whose bytes end here, or -1
        uint32_t more_tokens = 0;  // offset into extra_tokens() of further tokens with the same bytes, count below
        uint32_t more_count = 0;
    };
    const std::vector<Node>& nodes() const { return nodes_; }
    const std::vector<int32_t>& extra_tokens() const { return extra_; }
    size_t vocab_size() const { return vocab_size_; }
    // A token's bytes (empty for ids with none, such as the end of text).
    const std::string& bytes(int32_t token) const { return bytes_[static_cast<size_t>(token)]; }

private:
    std::vector<Node> nodes_;  // nodes_[0] is the root (the empty string)
    std::vector<int32_t> extra_;
    std::vector<std::string> bytes_;
    size_t vocab_size_ = 0;
};

// One sequence's place in a grammar.
class GrammarMatcher {
public:
    GrammarMatcher(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTrie> trie, int32_t eos_id);
    ~GrammarMatcher();
    GrammarMatcher(GrammarMatcher&&) noexcept;
    GrammarMatcher& operator=(GrammarMatcher&&) noexcept;

    // Sets logits[t] = -inf for every token t that cannot come next: its bytes leave the grammar, or it is the
    // end-of-text token and the text is not complete. Tokens with no bytes (other than end of text) are never
    // allowed.
    void mask(float* logits, size_t n_vocab);
    // Whether `token` may come next (the same test mask() makes).
    bool allows(int32_t token) const;
    // Moves past `token`; rwkv::Error if it is not allowed. End of text is accepted only when complete.
    void accept(int32_t token);
    // The text read so far is a whole sentence of the grammar (end of text may come now).
    bool can_end() const;
    // Nothing but the end may come: the reply is complete.
    bool must_end() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rwkv
