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

// Whether the kernels that stream weights once (generation's matrix-vector products) ask for them ahead of
// use themselves. Which wins depends on the core's hardware prefetcher, so it is chosen per vendor from
// measurements (bench/README.md): on AMD Zen 4 the hardware prefetcher keeps one stream per core at the
// memory's rate and software prefetches only cost issue slots (f16 2048x2048 from memory, 2 threads: 22-24
// GB/s with them, 28-30 without); on an Intel Emerald Rapids VM one stream per core stalls near 8.6 GB/s
// without them, and asking 4 KB ahead took the eight-row q4_0 kernel from 14 to 19-20 GB/s and f16 from 14
// to 20-22. Results are bit-identical either way; only the speed differs.
enum class StreamPrefetch : uint8_t { hardware, software };

const char* stream_prefetch_name(StreamPrefetch p);

// software on Intel CPUs, hardware on others (those measured: AMD Zen 4).
StreamPrefetch detected_stream_prefetch();

// The choice the env var RWKV_PREFETCH asks for ("hardware" or "software", any case; null or empty means no
// request, giving `fallback`). Throws rwkv::Error on anything else.
StreamPrefetch parse_stream_prefetch(const char* value, StreamPrefetch fallback);

// What the kernels use: RWKV_PREFETCH if set, else detected_stream_prefetch(); read once per process.
StreamPrefetch default_stream_prefetch();

}  // namespace rwkv
