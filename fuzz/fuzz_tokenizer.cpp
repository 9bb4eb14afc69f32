// libFuzzer target: tokenizer files, then encoding and decoding with what they describe.
// Input: byte 0 picks the file kind (mod 3: World vocab .txt, tokenizer.json, GGUF carrying a World vocab);
// bytes 1-2 are the text's length n (little-endian, cut to what is left); then n bytes of text; then the file.
// A World vocabulary must give the text back exactly from its ids; ids made up from the text's bytes
// (negative, past the vocabulary) must decode or raise rwkv::Error.
#include <algorithm>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "rwkv/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 3) return 0;
    const int kind = data[0] % 3;
    const size_t text_len = std::min<size_t>(data[1] | size_t{data[2]} << 8, size - 3);
    const std::string_view text(reinterpret_cast<const char*>(data + 3), text_len);
    const uint8_t* file = data + 3 + text_len;
    const size_t file_size = size - 3 - text_len;
    static const char* const kNames[] = {"vocab.txt", "tokenizer.json", "model.gguf"};
    const std::string path = rwkv::fuzz::write_input(kNames[kind], file, file_size);

    (void)rwkv::utf8_complete_prefix(text);
    (void)rwkv::utf8_sanitize(text);
    rwkv::fuzz::expect_rwkv_error([&] {
        // The scratch directory holds none of the names find_tokenizer looks for beside a model, so a GGUF
        // is asked for the vocabulary it carries.
        const std::unique_ptr<rwkv::Tokenizer> tok =
            kind == 2 ? rwkv::find_tokenizer(path, "") : rwkv::load_tokenizer(path);
        rwkv::fuzz::require(tok->vocab_size() > 0, "a loaded tokenizer has no ids");
        rwkv::fuzz::expect_rwkv_error([&] {
            const std::vector<int32_t> ids = tok->encode(text);
            for (int32_t id : ids)
                rwkv::fuzz::require(id >= 0 && static_cast<size_t>(id) < tok->vocab_size(),
                                    "encode gave an id past vocab_size()");
            const std::string back = tok->decode_bytes(ids);
            if (tok->kind() == "world") rwkv::fuzz::require(back == text, "World decode(encode(text)) != text");
            (void)tok->decode(ids);
        });
        std::vector<int32_t> made_up;
        for (size_t i = 0; i + 1 < text.size() && made_up.size() < 64; i += 2)
            made_up.push_back(
                static_cast<int16_t>(static_cast<uint8_t>(text[i]) | static_cast<uint8_t>(text[i + 1]) << 8));
        rwkv::fuzz::expect_rwkv_error([&] { (void)tok->decode(made_up); });
        rwkv::fuzz::expect_rwkv_error([&] { (void)tok->decode({tok->eos_id()}); });
    });
    return 0;
}
