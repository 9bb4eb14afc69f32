#pragma once
// rwkv.cpp's numbering of weight types, for the reader and for tools that cut rwkv.cpp files.
#include <cstdint>

#include "rwkv/tensor.h"

namespace rwkv {

// The type rwkv.cpp's code names (0 f32, 1 f16, 2 q4_0, 3 q4_1, 7 q5_0, 8 q5_1, 9 q8_0); false for the codes of
// formats ggml has since removed (4-6) and any other.
bool rwkvcpp_dtype(int32_t code, DType* out);

}  // namespace rwkv
