// rwkv::Error messages are one printable line whatever a file put into them: a tensor name with a newline
// or a terminal escape, bytes that are not UTF-8, a name a megabyte long.
#include <gtest/gtest.h>

#include <string>

#include "rwkv/error.h"

namespace rwkv {
namespace {

TEST(Error, ControlCharactersAndBadBytesAreEscaped) {
    EXPECT_EQ(std::string(Error("m.gguf: tensor 'a\nb\x1b[31mred' is missing").what()),
              "m.gguf: tensor 'a\\x0ab\\x1b[31mred' is missing");
    EXPECT_EQ(printable("tab\there\r\x7f"), "tab\\x09here\\x0d\\x7f");
    EXPECT_EQ(printable("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    EXPECT_EQ(printable("\xc2\x9b" "2J"), "\\xc2\\x9b2J");            // C1 CSI
    EXPECT_EQ(printable("\xff\xc3(\xed\xa0\x80"), "\\xff\\xc3(\\xed\\xa0\\x80");  // invalid UTF-8, a surrogate
    EXPECT_EQ(printable(printable("x\ny")), printable("x\ny"));       // escaping twice changes nothing
}

TEST(Error, LongMessagesKeepTheirStartAndEnd) {
    const std::string name(1 << 20, 'n');
    const std::string msg = Error("model.pth: tensor '" + name + "' is missing").what();
    EXPECT_LT(msg.size(), 5000u);
    EXPECT_EQ(msg.rfind("model.pth: tensor 'nnn", 0), 0u);
    EXPECT_TRUE(msg.ends_with("nnn' is missing"));
    EXPECT_NE(msg.find(" ... "), std::string::npos);
}

}  // namespace
}  // namespace rwkv
