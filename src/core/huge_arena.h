#pragma once
// Many arrays packed side by side into large HugeBuffer chunks, for a model's matrices that are copied at load.
//
// The kernel backs a range with a huge page only where a whole 2 MiB-aligned 2 MiB lies inside it, so a
// HugeBuffer of its own per matrix leaves every matrix under 2 MiB on 4 KiB pages (and a bigger one's tail).
// At n_embd 768 that is every projection of a layer (a 768 x 768 q4_0 matrix is 331 KB) and every LoRA, and
// 4 KiB pages read ~15 % slower at this machine's fast state (bench/README.md). Packed into shared chunks they
// sit on huge pages. Chunks are reserved, not filled: only the pages written to count as resident. A span that
// does not fit in the rest of a chunk starts a new one, and the huge page the last span of the old one ended in
// stays partly unused, so chunks are large: with 64 MiB ones a 14B q4_0 model (matrices of 15 and 59 MB) left
// ~300 MB resident unused.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/huge_buffer.h"

namespace rwkv {

class HugeArena {
public:
    // Chunks of `chunk_bytes` (rounded up to 2 MiB); a larger request gets a buffer of its own.
    explicit HugeArena(size_t chunk_bytes = size_t{1} << 30);

    struct Span {
        uint8_t* data;                        // zeroed, 64-byte aligned
        std::shared_ptr<const void> keep_alive;  // the memory stays valid while this lives, arena or not
    };
    // `bytes` of memory no other span overlaps. Throws rwkv::Error when the memory cannot be had.
    Span allocate(size_t bytes);

private:
    size_t chunk_bytes_;
    std::shared_ptr<HugeBuffer> chunk_;
    size_t used_ = 0;
};

}  // namespace rwkv
