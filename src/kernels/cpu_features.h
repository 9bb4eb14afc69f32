#pragma once
// Which instruction-set level the kernels may use. Kernels are chosen per call from an immutable table keyed
// by Isa, so one binary runs everywhere and tests can pin the plain reference path.
#include <cstdint>

namespace rwkv {

// Ordered: a level implies every level before it. Avx512 is AVX-512 F, BW, VL and VNNI on top of Avx2; only
// the integer dots have kernels of their own there, the rest of its table is Avx2's. NEON slots in when its
// table exists.
enum class Isa : uint8_t { Scalar, Avx2, Avx512 };

const char* isa_name(Isa isa);

// The best level this CPU supports (AVX2 needs AVX2, FMA and F16C together; Avx512 that and F, BW, VL, VNNI,
// with the OS saving the AVX-512 registers).
Isa detected_isa();

// The level the env var RWKV_ISA asks for, given its value ("scalar", "avx2" or "avx512", any case; null or empty
// means no request). Throws rwkv::Error on anything else, so a typo is not silently ignored.
// Returns `fallback` when there is no request.
Isa parse_isa(const char* value, Isa fallback);

// The lower of `requested` and detected_isa(): asking for more than the CPU has never crashes.
Isa clamp_isa(Isa requested);

// What calls without an explicit Isa use: detected_isa() lowered by RWKV_ISA, read once per process.
Isa default_isa();

}  // namespace rwkv
