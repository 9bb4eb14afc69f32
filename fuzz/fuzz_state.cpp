// libFuzzer target: State::load against one small model (RWKV_FUZZ_STATE_MODEL, default the v4-fp16
// reference checkpoint in ../shared/testdata); a state it accepts must then run a token.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "fuzz_support.h"
#include "rwkv/model.h"
#include "rwkv/state.h"

namespace {

const rwkv::Model& model() {
    static const std::unique_ptr<rwkv::Model> m = [] {
        const char* env = std::getenv("RWKV_FUZZ_STATE_MODEL");
        const std::string path = env && *env ? env : RWKV_FUZZ_DEFAULT_STATE_MODEL;
        try {
            return rwkv::Model::load(path);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "fuzz_state: cannot load the model (set RWKV_FUZZ_STATE_MODEL): %s\n", e.what());
            std::exit(2);
        }
    }();
    return *m;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    (void)model();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = rwkv::fuzz::write_input("input.state", data, size);
    rwkv::fuzz::expect_rwkv_error([&] {
        rwkv::State state = rwkv::State::load(path, model());
        std::vector<float> logits(static_cast<size_t>(model().info().n_vocab));
        model().eval(state, 0, logits.data());
    });
    return 0;
}
