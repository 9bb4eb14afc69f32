#pragma once
// Anonymous memory that starts on a 2 MiB boundary and asks the kernel for huge pages (MADV_HUGEPAGE), for
// large arrays that are streamed: on the machines measured, reading from 2 MiB pages ran up to a quarter faster
// than from 4 KiB ones (bench/README.md). Where no huge pages are available it is ordinary zeroed memory.
#include <cstddef>
#include <cstdint>

namespace rwkv {

class HugeBuffer {
public:
    enum class Pages : uint8_t { huge, small };

    // `bytes` of zeroed memory. Throws rwkv::Error when the memory cannot be had.
    explicit HugeBuffer(size_t bytes, Pages pages = Pages::huge);
    ~HugeBuffer();

    HugeBuffer(const HugeBuffer&) = delete;
    HugeBuffer& operator=(const HugeBuffer&) = delete;

    uint8_t* data() const { return data_; }
    size_t size() const { return size_; }

private:
    void* mapping_ = nullptr;
    size_t mapping_bytes_ = 0;
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace rwkv
