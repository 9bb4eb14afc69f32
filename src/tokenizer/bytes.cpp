// Byte-level RWKV models: the token id is the byte value, and 0 doubles as end-of-text.
#include <string>

#include "rwkv/error.h"
#include "tokenizer/tokenizers_internal.h"

namespace rwkv::tok {

namespace {

class BytesTokenizer final : public Tokenizer {
public:
    std::vector<int32_t> encode(std::string_view text) const override {
        std::vector<int32_t> ids(text.size());
        for (size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
        return ids;
    }

    std::string decode_bytes(const std::vector<int32_t>& ids) const override {
        std::string out(ids.size(), '\0');
        for (size_t i = 0; i < ids.size(); ++i) {
            if (ids[i] < 0 || ids[i] > 255)
                throw Error("bytes tokenizer: token id " + std::to_string(ids[i]) + " is out of range (0..255)");
            out[i] = static_cast<char>(ids[i]);
        }
        return out;
    }

    size_t vocab_size() const override { return 256; }
    std::string kind() const override { return "bytes"; }
    int32_t eos_id() const override { return 0; }
};

}  // namespace

std::unique_ptr<Tokenizer> make_bytes_tokenizer() { return std::make_unique<BytesTokenizer>(); }

}  // namespace rwkv::tok
