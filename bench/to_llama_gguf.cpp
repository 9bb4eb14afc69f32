// Writes a model in llama.cpp's RWKV-7 GGUF form (its tensor names, layouts and metadata keys), keeping every
// weight's type, so llama.cpp's llama-bench can run the same random-weight models as `rwkv bench`
// (bench/README.md, "Against llama.cpp"). The conversion is the test suite's stand-in for llama.cpp's
// convert_hf_to_gguf.py (tests/gguf/llama_convert.h); this adds what llama.cpp's loader also requires: a
// vocabulary of the model's size (placeholder tokens, each its id as text: llama-bench feeds token ids) and the LoRA ranks.
//   to_llama_gguf IN.gguf OUT.gguf      (IN: an RWKV-7 model in the project's own GGUF, e.g. from `rwkv init`)
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "llama_convert.h"
#include "rwkv/error.h"
#include "rwkv/gguf.h"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s IN.gguf OUT.gguf\n", argv[0]);
        return 2;
    }
    try {
        const rwkv::TensorFile f = rwkv::load_gguf(argv[1]);
        if (!f.has("blocks.1.att.v1")) throw rwkv::Error(std::string(argv[1]) + ": not an RWKV-7 model of 2+ layers");
        rwkv::GgufWriterInput w = rwkv::testing::llama_convert(f, 7, {});
        const int64_t vocab = f.get("emb.weight").shape[0];
        std::vector<std::string> tokens{"<s>"};
        std::vector<int32_t> types{3};  // llama.cpp's CONTROL, then NORMAL
        for (int64_t i = 1; i < vocab; ++i) {
            tokens.push_back(std::to_string(i));
            types.push_back(1);
        }
        for (auto& [key, value] : w.metadata)
            if (key == "tokenizer.ggml.tokens") value = rwkv::GgufValue::array(tokens);
        w.metadata.emplace_back("tokenizer.ggml.token_type", rwkv::GgufValue::array(types));
        const auto rank = [&](const char* lora) {  // official A: [C, rank]
            return static_cast<uint32_t>(f.get(std::string("blocks.1.att.") + lora).shape[1]);
        };
        w.metadata.emplace_back("rwkv7.attention.decay_lora_rank", rank("w1"));
        w.metadata.emplace_back("rwkv7.attention.iclr_lora_rank", rank("a1"));
        w.metadata.emplace_back("rwkv7.attention.value_residual_mix_lora_rank", rank("v1"));
        w.metadata.emplace_back("rwkv7.attention.gate_lora_rank", rank("g1"));
        rwkv::save_gguf(argv[2], w);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "to_llama_gguf: %s\n", e.what());
        return 1;
    }
    return 0;
}
