#include "tokenizer/neox_config.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/file_util.h"
#include "rwkv/error.h"
#include "tokenizer/gpt2_bytes.h"
#include "tokenizer/utf8_internal.h"

namespace rwkv::tok {

namespace {

using nlohmann::json;

class Reader {
public:
    explicit Reader(const std::string& path) : path_(path) {}

    // The decode table is indexed by id, so ids must stay near the number of tokens the file defines: a
    // few hostile bytes naming id 16 million would otherwise size it to hundreds of megabytes.
    void set_entries(size_t entries) { max_id_ = std::min<uint64_t>(2 * entries + 1024, (1u << 24) - 1); }

    [[noreturn]] void fail(const std::string& what) const { throw Error(path_ + ": " + what); }

    // An optional member: nullptr when absent or null.
    static const json* member(const json& obj, const char* key) {
        const auto it = obj.find(key);
        return (it == obj.end() || it->is_null()) ? nullptr : &*it;
    }

    bool flag(const json& obj, const char* key, bool fallback, const std::string& where) const {
        const json* v = member(obj, key);
        if (!v) return fallback;
        if (!v->is_boolean()) fail(where + "." + key + ": expected true or false");
        return v->get<bool>();
    }

    const std::string& string(const json& v, const std::string& where) const {
        if (!v.is_string()) fail(where + ": expected a string");
        return v.get_ref<const std::string&>();
    }

    int32_t id(const json& v, const std::string& where) const {
        if (!v.is_number_unsigned() || v.get<uint64_t>() > max_id_)
            fail(where + ": expected a token id 0.." + std::to_string(max_id_) + " (the file defines " +
                 "far fewer tokens than a larger id needs)");
        return static_cast<int32_t>(v.get<uint64_t>());
    }

private:
    const std::string& path_;
    uint64_t max_id_ = 0;
};

// A quoted token for error messages, cut short so one bad entry cannot flood the line.
std::string shown(const std::string& token) {
    return "\"" + (token.size() > 40 ? token.substr(0, 40) + "..." : token) + "\"";
}

// A vocabulary entry spelled in GPT-2 byte characters -> its bytes. Entries with other
// characters decode to their own UTF-8, as Hugging Face's ByteLevel decoder does.
std::string token_bytes(const std::string& spelled, bool& byte_level) {
    std::string bytes;
    byte_level = true;
    for (size_t i = 0; i < spelled.size();) {
        int32_t cp;
        i += utf8_next(spelled, i, cp);
        const int b = cp < 0 ? -1 : gpt2_char_to_byte(static_cast<uint32_t>(cp));
        if (b < 0) {
            byte_level = false;
            return spelled;
        }
        bytes += static_cast<char>(b);
    }
    return bytes;
}

NormForm read_normalizer(const Reader& r, const json& root) {
    const json* n = Reader::member(root, "normalizer");
    if (!n) return NormForm::None;
    if (!n->is_object()) r.fail("normalizer: expected an object or null");
    const json* type = Reader::member(*n, "type");
    if (!type) r.fail("normalizer: missing \"type\"");
    const std::string& t = r.string(*type, "normalizer.type");
    if (t == "NFC") return NormForm::NFC;
    if (t == "NFD") return NormForm::NFD;
    if (t == "NFKC") return NormForm::NFKC;
    if (t == "NFKD") return NormForm::NFKD;
    if (t == "Sequence") {
        const json* list = Reader::member(*n, "normalizers");
        if (list && list->is_array() && list->empty()) return NormForm::None;
        if (list && list->is_array() && list->size() == 1) {
            json wrapper = json::object();
            wrapper["normalizer"] = (*list)[0];
            return read_normalizer(r, wrapper);
        }
    }
    r.fail("normalizer: type " + shown(t) + " is not supported (NFC, NFD, NFKC, NFKD or none)");
}

void read_pre_tokenizer(const Reader& r, const json& root, NeoxConfig& cfg) {
    const json* p = Reader::member(root, "pre_tokenizer");
    if (p && p->is_object()) {
        const json* type = Reader::member(*p, "type");
        if (type && type->is_string() && *type == "Sequence") {
            const json* list = Reader::member(*p, "pretokenizers");
            if (list && list->is_array() && list->size() == 1) p = &(*list)[0];
        }
    }
    const json* type = (p && p->is_object()) ? Reader::member(*p, "type") : nullptr;
    if (!type || !type->is_string() || *type != "ByteLevel")
        r.fail("pre_tokenizer: only a ByteLevel pre-tokenizer (byte-level BPE) is supported");
    cfg.add_prefix_space = r.flag(*p, "add_prefix_space", true, "pre_tokenizer");
    cfg.use_regex = r.flag(*p, "use_regex", true, "pre_tokenizer");
}

void read_added_tokens(const Reader& r, const json& root, NeoxConfig& cfg) {
    const json* list = Reader::member(root, "added_tokens");
    if (!list) return;
    if (!list->is_array()) r.fail("added_tokens: expected an array");
    for (size_t i = 0; i < list->size(); ++i) {
        const json& t = (*list)[i];
        const std::string where = "added_tokens[" + std::to_string(i) + "]";
        if (!t.is_object()) r.fail(where + ": expected an object");
        const json* content = Reader::member(t, "content");
        const json* id = Reader::member(t, "id");
        if (!content || !id) r.fail(where + ": needs \"id\" and \"content\"");
        AddedToken tok;
        tok.content = r.string(*content, where + ".content");
        tok.id = r.id(*id, where + ".id");
        if (tok.content.empty()) continue;  // Hugging Face ignores empty added tokens too
        tok.single_word = r.flag(t, "single_word", false, where);
        tok.lstrip = r.flag(t, "lstrip", false, where);
        tok.rstrip = r.flag(t, "rstrip", false, where);
        const bool special = r.flag(t, "special", false, where);
        const bool normalized = r.flag(t, "normalized", !special, where);
        if (cfg.id_bytes.size() <= static_cast<size_t>(tok.id)) cfg.id_bytes.resize(tok.id + 1);
        cfg.id_bytes[tok.id] = tok.content;
        if (tok.content == "<|endoftext|>") cfg.eos_id = tok.id;
        if (normalized) {
            // Matched against normalized text, so spelled the way normalization leaves it.
            tok.content = normalize(tok.content, cfg.normalizer);
            cfg.added_normalized.push_back(std::move(tok));
        } else {
            cfg.added_raw.push_back(std::move(tok));
        }
    }
}

using SpelledIds = std::unordered_map<std::string, int32_t>;

void read_model_options(const Reader& r, const json& model, NeoxConfig& cfg) {
    if (const json* type = Reader::member(model, "type"); type && (!type->is_string() || *type != "BPE"))
        r.fail("model.type: only \"BPE\" models are supported");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
        const json* v = Reader::member(model, key);
        if (v && !(v->is_string() && v->get_ref<const std::string&>().empty()))
            r.fail(std::string("model.") + key + " is not supported");
    }
    cfg.ignore_merges = r.flag(model, "ignore_merges", false, "model");
}

// Fills the decode table; returns the vocabulary as spelled (GPT-2 characters) -> id.
SpelledIds read_vocab(const Reader& r, const json& model, NeoxConfig& cfg) {
    const json* vocab = Reader::member(model, "vocab");
    if (!vocab || !vocab->is_object()) r.fail("missing model.vocab (an object of token -> id)");
    SpelledIds spelled_ids;
    spelled_ids.reserve(vocab->size());
    std::vector<bool> seen;
    for (const auto& [spelled, v] : vocab->items()) {
        const int32_t id = r.id(v, "model.vocab[" + shown(spelled) + "]");
        if (seen.size() <= static_cast<size_t>(id)) seen.resize(id + 1);
        if (seen[id]) r.fail("model.vocab: id " + std::to_string(id) + " is given to two tokens");
        seen[id] = true;
        spelled_ids.emplace(spelled, id);
        bool byte_level;
        std::string bytes = token_bytes(spelled, byte_level);
        if (cfg.ignore_merges && byte_level) cfg.word_ids.emplace(bytes, id);
        if (cfg.id_bytes.size() <= static_cast<size_t>(id)) cfg.id_bytes.resize(id + 1);
        cfg.id_bytes[id] = std::move(bytes);
    }
    if (const auto it = spelled_ids.find("<|endoftext|>"); it != spelled_ids.end()) cfg.eos_id = it->second;
    return spelled_ids;
}

void read_byte_ids(const Reader& r, const SpelledIds& spelled_ids, NeoxConfig& cfg) {
    // Bytes that never occur in valid UTF-8 may lack a token (GPT-NeoX has none for 0xC0,
    // 0xC1, 0xF5-0xFF); encode() repairs invalid UTF-8 first, so they are never looked up.
    for (int b = 0; b < 256; ++b) {
        std::string spelled;
        utf8_append(spelled, gpt2_byte_to_char(static_cast<unsigned char>(b)));
        const auto it = spelled_ids.find(spelled);
        cfg.byte_ids[b] = it == spelled_ids.end() ? -1 : it->second;
        const bool in_utf8 = b != 0xC0 && b != 0xC1 && b < 0xF5;
        if (cfg.byte_ids[b] < 0 && in_utf8) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02X", b);
            r.fail(std::string("model.vocab has no token for byte ") + hex + " (" + shown(spelled) +
                   "); a byte-level BPE needs one for every byte of UTF-8");
        }
    }
}

void read_merges(const Reader& r, const json& model, const SpelledIds& spelled_ids, NeoxConfig& cfg) {
    const json* merges = Reader::member(model, "merges");
    if (!merges) return;
    if (!merges->is_array()) r.fail("model.merges: expected an array");
    cfg.merges.reserve(merges->size());
    for (size_t rank = 0; rank < merges->size(); ++rank) {
        const json& m = (*merges)[rank];
        const std::string where = "model.merges[" + std::to_string(rank) + "]";
        // Older files write a merge as "left right", newer ones as ["left", "right"].
        std::string left, right;
        if (m.is_string()) {
            const std::string& s = m.get_ref<const std::string&>();
            const size_t space = s.find(' ');
            if (space == std::string::npos || space == 0 || space + 1 == s.size() ||
                s.find(' ', space + 1) != std::string::npos)
                r.fail(where + ": expected \"left right\"");
            left = s.substr(0, space);
            right = s.substr(space + 1);
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            left = m[0].get<std::string>();
            right = m[1].get<std::string>();
        } else {
            r.fail(where + ": expected \"left right\" or [\"left\", \"right\"]");
        }
        const auto l = spelled_ids.find(left);
        const auto rt = spelled_ids.find(right);
        if (l == spelled_ids.end()) r.fail(where + ": unknown token " + shown(left));
        if (rt == spelled_ids.end()) r.fail(where + ": unknown token " + shown(right));
        const auto merged = spelled_ids.find(left + right);
        if (merged == spelled_ids.end())
            r.fail(where + ": merged token " + shown(left + right) + " is not in model.vocab");
        // A repeated pair keeps its last rank, as Hugging Face's map insertion does.
        cfg.merges[BpeMerger::pair_key(l->second, rt->second)] = {static_cast<int32_t>(rank), merged->second};
    }
}

}  // namespace

NeoxConfig load_neox_config(const std::string& path) {
    Reader r(path);
    const std::vector<uint8_t> data = read_file_bytes(path);
    json root;
    try {
        root = json::parse(data.begin(), data.end());
    } catch (const json::exception& e) {
        r.fail(std::string("not valid JSON: ") + e.what());
    }
    if (!root.is_object()) r.fail("expected a JSON object at the top level");

    NeoxConfig cfg;
    try {
        const json* model = Reader::member(root, "model");
        if (!model || !model->is_object()) r.fail("missing \"model\" object");
        const json* vocab = Reader::member(*model, "vocab");
        const json* added = Reader::member(root, "added_tokens");
        r.set_entries((vocab ? vocab->size() : 0) + (added ? added->size() : 0));
        read_model_options(r, *model, cfg);
        cfg.normalizer = read_normalizer(r, root);
        read_pre_tokenizer(r, root, cfg);
        const SpelledIds spelled_ids = read_vocab(r, *model, cfg);
        read_byte_ids(r, spelled_ids, cfg);
        read_merges(r, *model, spelled_ids, cfg);
        read_added_tokens(r, root, cfg);  // last: added tokens override vocabulary entries
    } catch (const json::exception& e) {
        // Checks above cover the expected shapes; this catches any type mismatch they missed.
        r.fail(std::string("malformed tokenizer.json: ") + e.what());
    }
    return cfg;
}

}  // namespace rwkv::tok
