#pragma once
// Test-side stand-in for llama.cpp's convert_hf_to_gguf.py (Rwkv6Model / Rwkv7Model), applied to an official
// checkpoint: the Hugging Face renaming the converter expects changes no values, so going straight from the
// official names gives the GGUF the converter writes. Used to check that gguf_to_official_names undoes it.
#include <string>

#include "rwkv/gguf.h"
#include "rwkv/tensor.h"

namespace rwkv::testing {

struct LlamaConvertOptions {
    int64_t head_size = 64;
    int64_t rescale_every = 0;  // RWKV-6: divide att.output / ffn.value by 2^(layer / rescale_every)
    bool fuse_lerp = true;      // RWKV-6: files converted before the fusion carry time_mix_lerp_{w,k,v,r,g}
};

// The GGUF writer input for an official RWKV-6 or RWKV-7 checkpoint (`version` 6 or 7), in llama.cpp's
// names, layouts and metadata keys.
GgufWriterInput llama_convert(const TensorFile& official, int version, const LlamaConvertOptions& opt);

}  // namespace rwkv::testing
