// libFuzzer target: the whole path a user's -m takes. Model::load sniffs the format, reads the file,
// detects the generation and binds the tensors; a model it accepts must then run a token in RNN mode and
// two in sequence mode without touching memory it does not own.
#include <vector>

#include "fuzz_support.h"
#include "rwkv/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = rwkv::fuzz::write_input("input.model", data, size);
    rwkv::fuzz::expect_rwkv_error([&] {
        const std::unique_ptr<rwkv::Model> model = rwkv::Model::load(path);
        const int64_t n_vocab = model->info().n_vocab;
        rwkv::fuzz::require(n_vocab > 0, "a loaded model has no vocabulary");
        std::vector<float> logits(static_cast<size_t>(n_vocab));
        rwkv::State state = model->new_state();
        model->eval(state, 0, logits.data());
        const int32_t tokens[2] = {static_cast<int32_t>(n_vocab - 1), 0};
        model->eval_sequence(state, tokens, logits.data(), false);
    });
    return 0;
}
