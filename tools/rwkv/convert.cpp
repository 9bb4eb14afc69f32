// rwkv convert: any supported model file to what the output's name says: the project's GGUF, with the projections
// in the chosen weight type (see storage_type() for what stays in higher precision, and why), or an official-layout
// .pth or .safetensors in f32, f16 or bf16.
#include <cstdio>

#include <filesystem>

#include "commands.h"
#include "dtype_option.h"
#include "model/model_writer.h"
#include "tokenizer/gguf_vocab.h"

namespace rwkv::cli {

namespace {
struct ConvertArgs {
    std::string in, out, type = "f16", tokenizer;
};
}  // namespace

Runner add_convert(CLI::App& cmd) {
    auto a = std::make_shared<ConvertArgs>();
    cmd.add_option("input", a->in, "model file: .pth, .safetensors, .gguf or rwkv.cpp .bin")->required();
    cmd.add_option("output", a->out, "output file: .gguf, .safetensors or .pth (official layout)")->required();
    cmd.add_option("--type", a->type, "weight type of the projections (f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q6_k)")
        ->capture_default_str();
    cmd.add_option("--tokenizer", a->tokenizer,
                   "tokenizer to embed: a World vocab, or bytes (default: rwkv_vocab_v20230424.txt beside the input, if there)");
    return [a] {
        const DType requested = parse_dtype(a->type);
        // The output carries its World vocabulary, as llama.cpp's RWKV files do, so it runs on its own.
        std::vector<std::pair<std::string, GgufValue>> vocab;
        std::unique_ptr<Tokenizer> tok;
        if (!a->tokenizer.empty())
            tok = load_tokenizer(a->tokenizer);
        else if (std::filesystem::is_regular_file(std::filesystem::path(a->in).parent_path() / "rwkv_vocab_v20230424.txt"))
            tok = load_tokenizer((std::filesystem::path(a->in).parent_path() / "rwkv_vocab_v20230424.txt").string());
        if (tok && (tok->kind() == "world" || tok->kind() == "bytes"))
            vocab = tok::tokenizer_gguf_metadata(*tok);
        else if (tok)
            std::fprintf(stderr, "note: a %s tokenizer is not embedded (only World vocabularies and bytes are)\n", tok->kind().c_str());
        const ModelInfo info = convert_model_file(a->in, a->out, requested, std::move(vocab));
        std::fprintf(stderr, "wrote %s: RWKV-%s, %lld layers, projections in %s\n", a->out.c_str(),
                     info.version_string().c_str(), static_cast<long long>(info.n_layer), a->type.c_str());
        return 0;
    };
}

}  // namespace rwkv::cli
