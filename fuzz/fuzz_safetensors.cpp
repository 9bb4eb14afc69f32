// libFuzzer target: Hugging Face safetensors through load_safetensors.
#include "fuzz_support.h"
#include "rwkv/formats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = rwkv::fuzz::write_input("input.safetensors", data, size);
    rwkv::fuzz::expect_rwkv_error([&] { rwkv::fuzz::check_tensors(rwkv::load_safetensors(path)); });
    return 0;
}
