// HugeBuffer: zeroed memory starting on a 2 MiB boundary, and a size no machine can give refused with an error
// naming the size, not a crash.
#include "core/huge_buffer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "rwkv/error.h"

namespace rwkv {
namespace {

TEST(HugeBuffer, ZeroedAndAlignedToTwoMebibytes) {
    for (size_t bytes : {size_t{1}, size_t{4097}, (size_t{2} << 20) + 3}) {
        HugeBuffer b(bytes);
        ASSERT_EQ(b.size(), bytes);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % (size_t{2} << 20), 0u);
        EXPECT_TRUE(std::all_of(b.data(), b.data() + bytes, [](uint8_t v) { return v == 0; }));
        b.data()[bytes - 1] = 7;  // writable to the last byte
    }
}

TEST(HugeBuffer, ImpossibleSizeIsAnError) {
    // 2^62 bytes no mapping can have; SIZE_MAX would also overflow the room added for alignment.
    for (size_t bytes : {size_t{1} << 62, SIZE_MAX, SIZE_MAX - 5}) {
        try {
            HugeBuffer b(bytes);
            FAIL() << "no error for " << bytes << " bytes";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("cannot allocate"), std::string::npos) << e.what();
        }
    }
}

}  // namespace
}  // namespace rwkv
