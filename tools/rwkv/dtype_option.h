#pragma once
#include <string>

#include "rwkv/error.h"
#include "rwkv/tensor.h"

namespace rwkv::cli {

// "q8_0" -> DType::Q8_0; the error lists the accepted names.
inline DType parse_dtype(const std::string& name) {
    static const DType all[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q8_0, DType::Q4_0,
                                DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q4_K, DType::Q6_K};
    std::string names;
    for (DType t : all) {
        if (name == dtype_name(t)) return t;
        names += std::string(names.empty() ? "" : ", ") + dtype_name(t);
    }
    throw Error("unknown weight type '" + name + "' (one of: " + names + ")");
}

}  // namespace rwkv::cli
