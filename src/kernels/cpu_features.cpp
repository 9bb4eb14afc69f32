#include "kernels/cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <cctype>
#include <cstdlib>
#include <string>

#include "rwkv/error.h"

namespace rwkv {

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::Scalar: return "scalar";
        case Isa::Avx2: return "avx2";
        case Isa::Avx512: return "avx512";
    }
    return "unknown";
}

#if defined(__x86_64__) || defined(__i386__)
namespace {
// From CPUID (leaf 1, ECX bit 29): clang before 15 does not know "f16c" as a __builtin_cpu_supports feature.
// F16C works on the AVX registers, whose OS support the avx2 check below covers.
bool cpu_has_f16c() {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}
}  // namespace
#endif

Isa detected_isa() {
    // Once: every kernel call clamps its ISA to this, and CPUID traps to the hypervisor in a VM.
    static const Isa isa = [] {
#if defined(__x86_64__) || defined(__i386__)
        // The compiler runtime's checks include the OS's XSAVE support for the AVX and AVX-512 register state.
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c()) {
            if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni"))
                return Isa::Avx512;
            return Isa::Avx2;
        }
#endif
        return Isa::Scalar;
    }();
    return isa;
}

namespace {

std::string lower(const char* value) {
    std::string v(value);
    for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return v;
}

}  // namespace

Isa parse_isa(const char* value, Isa fallback) {
    if (value == nullptr || *value == '\0') return fallback;
    const std::string v = lower(value);
    if (v == "scalar") return Isa::Scalar;
    if (v == "avx2") return Isa::Avx2;
    if (v == "avx512") return Isa::Avx512;
    throw Error("RWKV_ISA='" + std::string(value) + "' is not one of: scalar, avx2, avx512");
}

Isa clamp_isa(Isa requested) {
    const Isa have = detected_isa();
    return requested < have ? requested : have;
}

Isa default_isa() {
    // Read once: the environment is fixed for the process, and getenv racing a setenv is undefined.
    static const Isa isa = clamp_isa(parse_isa(std::getenv("RWKV_ISA"), Isa::Avx512));
    return isa;
}

const char* stream_prefetch_name(StreamPrefetch p) {
    return p == StreamPrefetch::software ? "software" : "hardware";
}

StreamPrefetch detected_stream_prefetch() {
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_is("intel")) return StreamPrefetch::software;
#endif
    return StreamPrefetch::hardware;
}

StreamPrefetch parse_stream_prefetch(const char* value, StreamPrefetch fallback) {
    if (value == nullptr || *value == '\0') return fallback;
    const std::string v = lower(value);
    if (v == "hardware") return StreamPrefetch::hardware;
    if (v == "software") return StreamPrefetch::software;
    throw Error("RWKV_PREFETCH='" + std::string(value) + "' is not one of: hardware, software");
}

StreamPrefetch default_stream_prefetch() {
    static const StreamPrefetch p = parse_stream_prefetch(std::getenv("RWKV_PREFETCH"), detected_stream_prefetch());
    return p;
}

}  // namespace rwkv
