// The RWKV World tokenizer: a fixed vocabulary of byte strings, encoded by taking the longest
// vocabulary entry that prefixes the remaining bytes, left to right. Id 0 is end-of-text and has
// no entry in the file.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <unordered_map>

#include "core/file_util.h"
#include "rwkv/error.h"
#include "tokenizer/byte_trie.h"
#include "tokenizer/python_literal.h"
#include "tokenizer/tokenizers_internal.h"

namespace rwkv::tok {

namespace {

// Ids past this are certainly a corrupt file, and would otherwise size the decode table.
constexpr uint64_t kMaxId = (1u << 24) - 1;
// RWKV models pad their embedding to a multiple of 64 rows (65530 World entries -> 65536).
constexpr size_t kVocabPad = 64;

bool parse_number(std::string_view s, uint64_t& v) {
    if (s.empty() || s.size() > 12) return false;
    v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    return true;
}

class WorldTokenizer final : public Tokenizer {
public:
    // Ids are 1-based (0 is end-of-text). `source` names the vocabulary in encode/decode errors; where(i)
    // names entry i's origin (a file line, a GGUF array index) in the errors about it.
    WorldTokenizer(std::string source, std::vector<std::pair<std::string, int32_t>> entries,
                   const std::function<std::string(size_t)>& where);

    std::vector<int32_t> encode(std::string_view text) const override;
    std::string decode_bytes(const std::vector<int32_t>& ids) const override;
    size_t vocab_size() const override { return vocab_size_; }
    std::string kind() const override { return "world"; }
    int32_t eos_id() const override { return 0; }

private:
    struct Span {
        uint32_t begin = 0, size = 0;  // size 0: no token has this id
    };
    std::string path_;
    ByteTrie trie_;
    std::string blob_;          // every token's bytes, back to back
    std::vector<Span> spans_;   // by id
    size_t vocab_size_ = 0;
};

WorldTokenizer::WorldTokenizer(std::string source, std::vector<std::pair<std::string, int32_t>> entries,
                               const std::function<std::string(size_t)>& where)
    : path_(std::move(source)) {
    // The decode table is indexed by id: ids must stay near the number of tokens, or a few hostile bytes
    // naming id 16 million would size it to hundreds of megabytes.
    const uint64_t max_id = std::min<uint64_t>(2 * entries.size() + 1024, kMaxId);
    std::unordered_map<std::string, int32_t> id_of;
    for (size_t i = 0; i < entries.size(); ++i) {
        const auto& [bytes, id] = entries[i];
        const auto fail = [&](const std::string& why) { throw Error(where(i) + ": " + why); };
        if (id <= 0 || static_cast<uint64_t>(id) > max_id)
            fail("id " + std::to_string(id) + " out of range 1.." + std::to_string(max_id) + " for a vocabulary of " +
                 std::to_string(entries.size()) + " tokens");
        if (bytes.empty()) fail("empty token");
        const auto [it, fresh] = id_of.emplace(bytes, id);
        if (!fresh) fail("same token as id " + std::to_string(it->second));
        if (spans_.size() <= static_cast<size_t>(id)) spans_.resize(static_cast<size_t>(id) + 1);
        if (spans_[id].size != 0) fail("id " + std::to_string(id) + " appears twice");
        spans_[id] = {static_cast<uint32_t>(blob_.size()), static_cast<uint32_t>(bytes.size())};
        blob_ += bytes;
    }
    if (entries.empty()) throw Error(path_ + ": vocabulary has no tokens");
    vocab_size_ = (spans_.size() + kVocabPad - 1) / kVocabPad * kVocabPad;
    trie_ = ByteTrie(std::move(entries));
}

// A World vocab file: lines of `id <python str/bytes literal> <byte length>`. line_of[i]: entry i's line.
std::vector<std::pair<std::string, int32_t>> read_world_vocab(const std::string& path, std::vector<size_t>& line_of) {
    const std::vector<uint8_t> data = read_file_bytes(path);
    const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
    std::vector<std::pair<std::string, int32_t>> entries;
    size_t line_no = 0;
    for (size_t pos = 0; pos < text.size();) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        const auto fail = [&](const std::string& why) {
            throw Error(path + ":" + std::to_string(line_no) + ": bad vocab line: " + why);
        };
        const size_t first_space = line.find(' ');
        const size_t last_space = line.rfind(' ');
        if (first_space == std::string_view::npos || first_space == last_space)
            fail("expected `id literal length`");
        uint64_t id = 0, length = 0;
        if (!parse_number(line.substr(0, first_space), id)) fail("id is not a number");
        if (id == 0 || id > kMaxId) fail("id " + std::to_string(id) + " out of range 1.." + std::to_string(kMaxId));
        if (!parse_number(line.substr(last_space + 1), length)) fail("byte length is not a number");
        std::string bytes, why;
        if (!parse_python_literal(line.substr(first_space + 1, last_space - first_space - 1), bytes, why))
            fail(why);
        if (bytes.size() != length)
            fail("token is " + std::to_string(bytes.size()) + " bytes but the line says " + std::to_string(length));
        entries.emplace_back(std::move(bytes), static_cast<int32_t>(id));
        line_of.push_back(line_no);
    }
    return entries;
}

std::vector<int32_t> WorldTokenizer::encode(std::string_view text) const {
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3 + 1);
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    for (size_t i = 0; i < text.size();) {
        int32_t id = 0;
        const size_t len = trie_.longest_prefix(p + i, text.size() - i, &id);
        if (len == 0) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02X", p[i]);
            throw Error(path_ + ": no token for byte " + hex + " at offset " + std::to_string(i));
        }
        ids.push_back(id);
        i += len;
    }
    return ids;
}

std::string WorldTokenizer::decode_bytes(const std::vector<int32_t>& ids) const {
    std::string out;
    for (int32_t id : ids) {
        if (id == 0) continue;  // end-of-text has no bytes
        if (id < 0 || static_cast<size_t>(id) >= spans_.size() || spans_[id].size == 0)
            throw Error(path_ + ": no token with id " + std::to_string(id));
        out.append(blob_, spans_[id].begin, spans_[id].size);
    }
    return out;
}

}  // namespace

std::unique_ptr<Tokenizer> load_world_tokenizer(const std::string& path) {
    std::vector<size_t> line_of;
    auto entries = read_world_vocab(path, line_of);
    return std::make_unique<WorldTokenizer>(path, std::move(entries), [&](size_t i) {
        return path + ":" + std::to_string(line_of[i]) + ": bad vocab line";
    });
}

std::unique_ptr<Tokenizer> make_world_tokenizer(const std::string& source,
                                                std::vector<std::pair<std::string, int32_t>> entries,
                                                const std::function<std::string(size_t)>& where) {
    return std::make_unique<WorldTokenizer>(source, std::move(entries), where);
}

}  // namespace rwkv::tok
