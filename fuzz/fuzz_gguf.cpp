// libFuzzer target: GGUF through load_gguf_in_place (validation, in-place tensors, llama.cpp renaming), and
// every metadata value of open_gguf read back as text.
#include "fuzz_support.h"
#include "rwkv/formats.h"
#include "rwkv/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = rwkv::fuzz::write_input("input.gguf", data, size);
    rwkv::fuzz::expect_rwkv_error([&] { rwkv::fuzz::check_tensors(rwkv::load_gguf_in_place(path)); });
    rwkv::fuzz::expect_rwkv_error([&] {
        const rwkv::GgufFile f = rwkv::open_gguf(path);
        for (const auto& [key, value] : f.metadata()) {
            (void)value.to_string();
            if (value.is_array() && value.array_type() == rwkv::GgufType::String)
                for (uint64_t i = 0; i < value.array_size(); ++i) (void)value.string_at(i);
        }
    });
    return 0;
}
