#pragma once
// FNV-1a, 64-bit: a cheap, stable fingerprint for files and weights (not for security).
#include <cstddef>
#include <cstdint>

namespace rwkv {

class Fnv1a {
public:
    void add(const void* data, size_t size) {
        const auto* p = static_cast<const unsigned char*>(data);
        for (size_t i = 0; i < size; ++i) h_ = (h_ ^ p[i]) * 0x100000001b3ull;
    }
    template <class T>
    void add_value(const T& v) {
        add(&v, sizeof v);
    }
    uint64_t value() const { return h_; }

private:
    uint64_t h_ = 0xcbf29ce484222325ull;
};

}  // namespace rwkv
