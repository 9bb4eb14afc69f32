// rwkv init: a random-weight model of any published shape and weight type, so speed and memory can
// be measured without downloading a checkpoint.
#include <cstdio>

#include "commands.h"
#include "dtype_option.h"
#include "model/architecture.h"
#include "model/model_writer.h"
#include "rwkv/tokenizer.h"
#include "tokenizer/gguf_vocab.h"

namespace rwkv::cli {

namespace {
struct InitArgs {
    ModelShape shape;
    std::string type = "f16", out, tokenizer;
    uint64_t seed = 1;
};
}  // namespace

Runner add_init(CLI::App& cmd) {
    auto a = std::make_shared<InitArgs>();
    cmd.add_option("--version", a->shape.version, "generation: 4, 5 (5.2), 6 or 7")->capture_default_str();
    cmd.add_option("--layers", a->shape.n_layer, "layers")->capture_default_str();
    cmd.add_option("--embd", a->shape.n_embd, "embedding size")->capture_default_str();
    cmd.add_option("--vocab", a->shape.n_vocab, "vocabulary size")->capture_default_str();
    cmd.add_option("--head-size", a->shape.head_size, "head size (v5-v7)")->capture_default_str();
    cmd.add_option("--ffn", a->shape.ffn_dim, "channel-mix size (0: the generation's default)");
    cmd.add_option("--type", a->type, "weight type of the projections (f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q6_k)")
        ->capture_default_str();
    cmd.add_option("--seed", a->seed, "random seed")->capture_default_str();
    cmd.add_option("-o,--output", a->out, "output .gguf file")->required();
    cmd.add_option("--tokenizer", a->tokenizer, "tokenizer to embed: a World vocab .txt, or bytes");
    return [a] {
        const DType requested = parse_dtype(a->type);
        const ModelShape shape = a->shape.resolved();
        OutputModel m;
        m.version = shape.version;
        m.name = "random RWKV-" + std::to_string(shape.version) + " " + std::to_string(shape.n_layer) + "x" +
                 std::to_string(shape.n_embd) + " " + a->type;
        int64_t params = 0;
        for (const TensorSpec& spec : model_tensors(shape)) {
            params += spec.numel();
            OutputTensor t;
            t.name = spec.name;
            t.shape = spec.shape;
            t.type = storage_type(spec, requested);
            const uint64_t seed = a->seed;
            t.rows = [spec, shape, seed](int64_t begin, int64_t rows, float* out) {
                random_rows(spec, shape, seed, begin, rows, out);
            };
            m.tensors.push_back(std::move(t));
        }
        if (!a->tokenizer.empty()) {
            const auto tok = load_tokenizer(a->tokenizer);
            check_covers(*tok, shape.n_vocab);
            m.metadata = tok::tokenizer_gguf_metadata(*tok);
        }
        write_model_gguf(a->out, m);
        std::fprintf(stderr, "wrote %s: RWKV-%d, %lld layers, n_embd %lld, vocab %lld, %.1f M parameters, %s\n",
                     a->out.c_str(), shape.version, static_cast<long long>(shape.n_layer),
                     static_cast<long long>(shape.n_embd), static_cast<long long>(shape.n_vocab), params / 1e6,
                     a->type.c_str());
        return 0;
    };
}

}  // namespace rwkv::cli
