// GPT-NeoX (and GPT-2 style) byte-level BPE, as Hugging Face's tokenizers library runs a
// tokenizer.json: added tokens are cut out first, the rest is normalized, cut into words by the
// GPT-2 pattern, and each word's bytes are BPE-merged. Text that is not valid UTF-8 is repaired
// first (each invalid sequence becomes U+FFFD).
#include <string>

#include "rwkv/error.h"
#include "tokenizer/gpt2_split.h"
#include "tokenizer/neox_config.h"
#include "tokenizer/tokenizers_internal.h"

namespace rwkv::tok {

namespace {

class NeoxTokenizer final : public Tokenizer {
public:
    NeoxTokenizer(std::string path, NeoxConfig cfg)
        : path_(std::move(path)),
          cfg_(std::move(cfg)),
          bpe_(cfg_.byte_ids, std::move(cfg_.merges)),
          added_raw_(std::move(cfg_.added_raw)),
          added_normalized_(std::move(cfg_.added_normalized)) {}

    std::vector<int32_t> encode(std::string_view text) const override;
    std::string decode_bytes(const std::vector<int32_t>& ids) const override;
    size_t vocab_size() const override { return cfg_.id_bytes.size(); }
    std::string kind() const override { return "neox"; }
    int32_t eos_id() const override { return cfg_.eos_id; }

private:
    void encode_plain(std::string_view text, std::vector<int32_t>& ids) const;
    void encode_word(std::string_view word, std::vector<int32_t>& ids) const;

    std::string path_;
    NeoxConfig cfg_;
    BpeMerger bpe_;
    AddedTokenMatcher added_raw_;
    AddedTokenMatcher added_normalized_;
};

std::vector<int32_t> NeoxTokenizer::encode(std::string_view input) const {
    // The vocabulary was built from valid UTF-8 and lacks tokens for bytes that never occur in
    // it, so invalid sequences become U+FFFD, as they would on the way into a Python str.
    const std::string text = utf8_sanitize(input);
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 4 + 1);
    std::vector<AddedTokenMatcher::Piece> raw_pieces, pieces;
    added_raw_.split(text, raw_pieces);
    for (const auto& raw : raw_pieces) {
        if (raw.id >= 0) {
            ids.push_back(raw.id);
            continue;
        }
        const std::string normalized = normalize(raw.text, cfg_.normalizer);
        pieces.clear();
        added_normalized_.split(normalized, pieces);
        for (const auto& piece : pieces) {
            if (piece.id >= 0)
                ids.push_back(piece.id);
            else
                encode_plain(piece.text, ids);
        }
    }
    return ids;
}

void NeoxTokenizer::encode_plain(std::string_view text, std::vector<int32_t>& ids) const {
    std::string prefixed;
    if (cfg_.add_prefix_space && !text.empty() && text[0] != ' ') {
        prefixed = " ";
        prefixed += text;
        text = prefixed;
    }
    if (!cfg_.use_regex) {
        encode_word(text, ids);
        return;
    }
    std::vector<std::string_view> words;
    gpt2_split(text, words);
    for (std::string_view word : words) encode_word(word, ids);
}

void NeoxTokenizer::encode_word(std::string_view word, std::vector<int32_t>& ids) const {
    if (cfg_.ignore_merges) {
        const auto it = cfg_.word_ids.find(std::string(word));
        if (it != cfg_.word_ids.end()) {
            ids.push_back(it->second);
            return;
        }
    }
    bpe_.encode(word, ids);
}

std::string NeoxTokenizer::decode_bytes(const std::vector<int32_t>& ids) const {
    std::string out;
    for (int32_t id : ids) {
        if (id < 0 || static_cast<size_t>(id) >= cfg_.id_bytes.size() || cfg_.id_bytes[id].empty())
            throw Error(path_ + ": no token with id " + std::to_string(id));
        out += cfg_.id_bytes[id];
    }
    return out;
}

}  // namespace

std::unique_ptr<Tokenizer> load_neox_tokenizer(const std::string& path) {
    return std::make_unique<NeoxTokenizer>(path, load_neox_config(path));
}

}  // namespace rwkv::tok
