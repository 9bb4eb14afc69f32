// sampling::argmax: the same id std::max_element gives, on every length around its 16-wide blocks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "sampling/truncation.h"

namespace rwkv {
namespace {

int32_t reference(const std::vector<float>& v) {
    return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

TEST(Argmax, MatchesMaxElementOnRandomLogits) {
    std::mt19937 rng(11);
    std::normal_distribution<float> nd(0.0f, 3.0f);
    for (size_t n : {size_t{1}, size_t{2}, size_t{15}, size_t{16}, size_t{17}, size_t{33}, size_t{65539}}) {
        for (int trial = 0; trial < 20; ++trial) {
            std::vector<float> v(n);
            for (float& x : v) x = nd(rng);
            ASSERT_EQ(sampling::argmax(v), reference(v)) << "n " << n;
        }
    }
}

TEST(Argmax, TiesGoToTheLowestId) {
    std::vector<float> v(100, -1.0f);
    v[37] = v[38] = v[90] = 2.0f;
    EXPECT_EQ(sampling::argmax(v), 37);
    v[20] = 0.0f;  // +0 and -0 are equal maxima too
    v[37] = v[38] = v[90] = -0.0f;
    EXPECT_EQ(sampling::argmax(v), 20);
    EXPECT_EQ(sampling::argmax(std::vector<float>(40, 1.5f)), 0);
}

TEST(Argmax, InfinitiesAndNaNsAsMaxElement) {
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> v(50, -inf);
    EXPECT_EQ(sampling::argmax(v), 0);
    v[44] = -3.0f;
    EXPECT_EQ(sampling::argmax(v), 44);
    v[10] = nan;  // a NaN after the first element never wins
    EXPECT_EQ(sampling::argmax(v), reference(v));
    v[0] = nan;  // a leading one does
    EXPECT_EQ(sampling::argmax(v), reference(v));
    EXPECT_EQ(sampling::argmax({}), 0);
}

}  // namespace
}  // namespace rwkv
