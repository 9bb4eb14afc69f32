#pragma once
// Internal to the kernels: picks the kernel table for an Isa and checks arguments once for dot.h's entry points.
#include <cstddef>
#include <cstdint>

#include "kernels/cpu_features.h"
#include "kernels/dot_kernels.h"
#include "rwkv/tensor.h"

namespace rwkv {
class ActivationQ8;
}

namespace rwkv::kern {

// The table for `isa`, lowered to what the CPU supports, in the process's StreamPrefetch variant
// (default_stream_prefetch()) or the one asked for.
const KernelTable& table_for(Isa isa);
const KernelTable& table_for(Isa isa, StreamPrefetch prefetch);

// The table slot of t; throws rwkv::Error for a value outside the enum.
int slot_of(DType t);

// What the integer kernels read of x.
Q8View q8_view(const ActivationQ8& x);

// Throws rwkv::Error naming `what` unless rows, cols (and T) are non-negative.
void check_shape(const char* what, int64_t rows, int64_t cols, int64_t T = 0);

}  // namespace rwkv::kern
