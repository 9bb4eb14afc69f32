// libFuzzer target: PyTorch .pth (zip archive + restricted unpickler) through load_pth.
#include "fuzz_support.h"
#include "rwkv/formats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = rwkv::fuzz::write_input("input.pth", data, size);
    rwkv::fuzz::expect_rwkv_error([&] { rwkv::fuzz::check_tensors(rwkv::load_pth(path)); });
    return 0;
}
