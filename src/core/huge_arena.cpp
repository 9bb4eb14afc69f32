#include "core/huge_arena.h"

namespace rwkv {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kAlign = 64;  // a cache line, and every SIMD load width the kernels use
}  // namespace

HugeArena::HugeArena(size_t chunk_bytes)
    : chunk_bytes_(chunk_bytes < kHugePage ? kHugePage : (chunk_bytes + kHugePage - 1) / kHugePage * kHugePage) {}

HugeArena::Span HugeArena::allocate(size_t bytes) {
    if (bytes > chunk_bytes_) {
        auto own = std::make_shared<HugeBuffer>(bytes);
        return {own->data(), own};
    }
    // Aligned, and at least one byte, so two spans never share an address.
    const size_t take = bytes == 0 ? kAlign : (bytes + kAlign - 1) / kAlign * kAlign;
    if (chunk_ == nullptr || chunk_bytes_ - used_ < take) {
        chunk_ = std::make_shared<HugeBuffer>(chunk_bytes_);
        used_ = 0;
    }
    uint8_t* p = chunk_->data() + used_;
    used_ += take;
    return {p, chunk_};
}

}  // namespace rwkv
