#include "core/huge_buffer.h"

#include <sys/mman.h>

#include <cstdint>
#include <string>

#include "rwkv/error.h"

namespace rwkv {

HugeBuffer::HugeBuffer(size_t bytes, Pages pages) : size_(bytes) {
    constexpr size_t kHuge = size_t{2} << 20;
    if (bytes > SIZE_MAX - kHuge) throw Error("cannot allocate " + std::to_string(bytes >> 20) + " MiB");
    // Room to start on a 2 MiB boundary, so every page of the buffer can be a huge one.
    mapping_bytes_ = bytes + kHuge;
    mapping_ = mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping_ == MAP_FAILED) {
        mapping_ = nullptr;
        throw Error("cannot allocate " + std::to_string(bytes >> 20) + " MiB");
    }
    const uintptr_t start = (reinterpret_cast<uintptr_t>(mapping_) + kHuge - 1) & ~(kHuge - 1);
    data_ = reinterpret_cast<uint8_t*>(start);
    // Advice only: without huge pages to give, the kernel maps 4 KiB ones.
    if (bytes > 0) madvise(data_, bytes, pages == Pages::huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
}

HugeBuffer::~HugeBuffer() {
    if (mapping_ != nullptr) munmap(mapping_, mapping_bytes_);
}

}  // namespace rwkv
