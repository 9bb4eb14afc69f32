#include "sampling/truncation.h"

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <string>

#include "rwkv/error.h"

namespace rwkv::sampling {
namespace {

// A total order (weight desc, id asc): every sort below therefore has exactly one result, which
// keeps the walk order -- and so the drawn token -- independent of the standard library.
struct ByWeight {
    const std::vector<float>& w;
    bool operator()(int32_t a, int32_t b) const {
        return w[a] != w[b] ? w[a] > w[b] : a < b;
    }
};

// Weights lie in (0, 1], where a float's bit pattern grows with its value, so the top bits of
// (bits(1) - bits(w)) cut the range into buckets of 1/8 octave, ordered from the largest weight.
constexpr int kBucketShift = 20;
constexpr uint32_t kOneBits = 0x3F800000u;  // bits of 1.0f
constexpr size_t kBuckets = (kOneBits >> kBucketShift) + 1;

size_t bucket_of(float w) {
    return (kOneBits - std::bit_cast<uint32_t>(w)) >> kBucketShift;
}

// Cuts `kept` to the smallest prefix, in ByWeight order, whose weight reaches `target`.
// Sorting the whole vocabulary (65536 for World) for every token would cost milliseconds, so a
// histogram of weights first finds a bucket by which the target is surely reached; only the
// tokens in that bucket or above are sorted and walked.
void cut_top_p(const std::vector<float>& w, std::vector<int32_t>& kept, double target,
               bool already_sorted) {
    auto middle = kept.end();
    if (!already_sorted) {
        std::array<double, kBuckets> mass{};
        for (int32_t id : kept) mass[bucket_of(w[id])] += w[id];
        size_t last = 0;
        // The margin covers the different summation order of the walk below.
        for (double cum = 0; last + 1 < kBuckets && (cum += mass[last]) < target * (1 + 1e-9);)
            ++last;
        middle = std::partition(kept.begin(), kept.end(),
                                [&](int32_t id) { return bucket_of(w[id]) <= last; });
        std::sort(kept.begin(), middle, ByWeight{w});
    }
    double cum = 0.0;
    for (auto it = kept.begin(); it != kept.end(); ++it) {
        if (it == middle) {
            // Only reachable through rounding: the rest is all lighter, so sorting it on its own
            // extends the sorted prefix.
            std::sort(middle, kept.end(), ByWeight{w});
        }
        cum += w[*it];
        if (cum >= target) {
            kept.erase(it + 1, kept.end());
            return;
        }
    }
    // Target unreached (min_p removed the tail, or rounding): everything stays, sorted.
}

}  // namespace

void check_logits(const std::vector<float>& logits) {
    if (logits.empty()) throw Error("sampler: empty vocabulary (no logits)");
    bool any_finite = false;
    for (size_t i = 0; i < logits.size(); ++i) {
        const float l = logits[i];
        if (std::isnan(l)) throw Error("sampler: logit of token " + std::to_string(i) + " is NaN");
        if (l == INFINITY)
            throw Error("sampler: logit of token " + std::to_string(i) + " is +inf");
        any_finite = any_finite || std::isfinite(l);
    }
    if (!any_finite) throw Error("sampler: every logit is -inf, no token can be chosen");
}

int32_t argmax(const std::vector<float>& logits) {
    // What max_element gives (the first of equal maxima, so ties go to the lowest id; a NaN never wins unless
    // it comes first), in two passes of vector compares: max_element's compare-and-keep-index chain took
    // 54 us over 65536 logits, 1-2% of a 0.1B model's token; this takes under 4.
    const size_t n = logits.size();
    if (n == 0) return 0;
    const float* v = logits.data();
    float m = v[0];  // a leading NaN stays the answer, as with max_element
    size_t i = 0;
#if defined(__SSE2__)
    // maxps(a, b) is a > b ? a : b, b where either is NaN: the scalar rule below, four lanes at a time.
    __m128 l0 = _mm_set1_ps(m), l1 = l0, l2 = l0, l3 = l0;
    for (; i + 16 <= n; i += 16) {
        l0 = _mm_max_ps(_mm_loadu_ps(v + i), l0);
        l1 = _mm_max_ps(_mm_loadu_ps(v + i + 4), l1);
        l2 = _mm_max_ps(_mm_loadu_ps(v + i + 8), l2);
        l3 = _mm_max_ps(_mm_loadu_ps(v + i + 12), l3);
    }
    float lanes[16];
    _mm_storeu_ps(lanes, l0);
    _mm_storeu_ps(lanes + 4, l1);
    _mm_storeu_ps(lanes + 8, l2);
    _mm_storeu_ps(lanes + 12, l3);
    for (float x : lanes) m = x > m ? x : m;
#endif
    for (; i < n; ++i) m = v[i] > m ? v[i] : m;
    i = 0;
#if defined(__SSE2__)
    const __m128 target = _mm_set1_ps(m);
    for (; i + 16 <= n; i += 16) {
        const __m128 eq = _mm_or_ps(_mm_or_ps(_mm_cmpeq_ps(_mm_loadu_ps(v + i), target),
                                              _mm_cmpeq_ps(_mm_loadu_ps(v + i + 4), target)),
                                    _mm_or_ps(_mm_cmpeq_ps(_mm_loadu_ps(v + i + 8), target),
                                              _mm_cmpeq_ps(_mm_loadu_ps(v + i + 12), target)));
        if (_mm_movemask_ps(eq) != 0) break;
    }
#endif
    for (; i < n; ++i)
        if (v[i] == m) return static_cast<int32_t>(i);
    return 0;  // only m = NaN: v[0] was NaN
}

void to_weights(std::vector<float>& values, float temperature) {
    // The maximum gets exactly exp(0) = 1 and banned tokens exp(-inf) = 0. Dividing (rather than
    // multiplying by 1/T) keeps that true even for a denormal temperature.
    const float max = *std::max_element(values.begin(), values.end());
    for (float& v : values) v = std::exp((v - max) / temperature);
}

double truncate(const std::vector<float>& w, const SamplerParams& params,
                std::vector<int32_t>& kept) {
    kept.clear();
    for (size_t i = 0; i < w.size(); ++i)
        if (w[i] > 0.0f) kept.push_back(static_cast<int32_t>(i));

    bool sorted = false;
    if (params.top_k > 0 && static_cast<size_t>(params.top_k) < kept.size()) {
        const auto k = static_cast<std::ptrdiff_t>(params.top_k);
        std::partial_sort(kept.begin(), kept.begin() + k, kept.end(), ByWeight{w});
        kept.resize(static_cast<size_t>(k));
        sorted = true;
    }

    // top_p's mass is that of the top_k survivors, before min_p: the two cuts are then both
    // prefixes of the same sorted list and their order does not matter.
    double mass = 0.0;
    for (int32_t id : kept) mass += w[id];

    if (params.min_p > 0.0f) {
        // The most likely token has weight exactly 1, so p >= min_p * p_max is w >= min_p.
        std::erase_if(kept, [&](int32_t id) { return w[id] < params.min_p; });
    }
    if (params.top_p < 1.0f) cut_top_p(w, kept, static_cast<double>(params.top_p) * mass, sorted);

    double total = 0.0;
    for (int32_t id : kept) total += w[id];
    return total;
}

int32_t pick(const std::vector<float>& w, const std::vector<int32_t>& kept, double total, double u) {
    const double target = u * total;
    double cum = 0.0;
    for (int32_t id : kept) {
        cum += w[id];
        if (cum > target) return id;
    }
    // Only reachable through rounding when u is within an ulp of 1.
    return kept.back();
}

}  // namespace rwkv::sampling
