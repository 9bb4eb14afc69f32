#pragma once
// Which instruction-set level the kernels may use. Kernels are chosen per call from an immutable table keyed
// by Isa, so one binary runs everywhere and tests can pin the plain reference path.
#include <cstdint>

namespace rwkv {

// Ordered: a level implies every level before it. AVX-512 and NEON slot in here when their tables exist.
enum class Isa : uint8_t { Scalar, Avx2 };

const char* isa_name(Isa isa);

// The best level this CPU supports (AVX2 needs AVX2, FMA and F16C together).
Isa detected_isa();

// The level the env var RWKV_ISA asks for, given its value ("scalar" or "avx2", any case; null or empty
// means no request). Throws rwkv::Error on anything else, so a typo is not silently ignored.
// Returns `fallback` when there is no request.
Isa parse_isa(const char* value, Isa fallback);

// The lower of `requested` and detected_isa(): asking for more than the CPU has never crashes.
Isa clamp_isa(Isa requested);

// What calls without an explicit Isa use: detected_isa() lowered by RWKV_ISA, read once per process.
Isa default_isa();

}  // namespace rwkv
