// The World/G1 chat format: prompts as the models were trained on them, and replies split into reasoning and
// answer the same way however the text was cut into pieces.
#include "rwkv/chat_format.h"

#include <gtest/gtest.h>

#include "rwkv/error.h"

namespace rwkv {
namespace {

TEST(ChatFormat, PromptTurnsAndOpenings) {
    const std::vector<ChatMessage> chat = {{"system", "Be brief."},
                                           {"user", "Hi\r\n\n\nthere  "},
                                           {"assistant", " Hello."},
                                           {"user", "What is 2+2?"}};
    EXPECT_EQ(chat_prompt(chat, ThinkMode::Plain),
              "System: Be brief.\n\nUser: Hi\nthere\n\nAssistant: Hello.\n\nUser: What is 2+2?\n\nAssistant:");
    EXPECT_EQ(chat_prompt({{"user", "q"}}, ThinkMode::Think), "User: q\n\nAssistant: <think");
    EXPECT_EQ(chat_prompt({{"user", "q"}}, ThinkMode::NoThink), "User: q\n\nAssistant: <think>\n</think");
    EXPECT_EQ(chat_prompt({{"developer", "d"}}, ThinkMode::Plain), "System: d\n\nAssistant:");
    EXPECT_THROW(chat_prompt({{"narrator", "x"}}, ThinkMode::Plain), Error);
    EXPECT_EQ(chat_clean("\n\n  a\n\n\nb \n"), "a\nb");
}

// The whole reply at once, and one character at a time: the same parts.
void expect_split(ThinkMode mode, const std::string& reply, const std::string& reasoning, const std::string& content) {
    ReplySplitter whole(mode);
    ReplySplitter::Parts a = whole.push(reply);
    ReplySplitter::Parts rest = whole.flush();
    a.reasoning += rest.reasoning;
    a.content += rest.content;
    EXPECT_EQ(a.reasoning, reasoning) << reply;
    EXPECT_EQ(a.content, content) << reply;
    ReplySplitter bytes(mode);
    ReplySplitter::Parts b;
    for (char c : reply) {
        const ReplySplitter::Parts p = bytes.push(std::string(1, c));
        b.reasoning += p.reasoning;
        b.content += p.content;
    }
    rest = bytes.flush();
    b.reasoning += rest.reasoning;
    b.content += rest.content;
    EXPECT_EQ(b.reasoning, reasoning) << reply << " (byte by byte)";
    EXPECT_EQ(b.content, content) << reply << " (byte by byte)";
}

TEST(ChatFormat, RepliesSplitIntoReasoningAndAnswer) {
    expect_split(ThinkMode::Plain, " Hello there.", "", "Hello there.");
    expect_split(ThinkMode::Plain, " <think>\nLet me see.\nYes.\n</think>\nIt is 4.", "Let me see.\nYes.", "It is 4.");
    expect_split(ThinkMode::Plain, " <thinking is fun", "", "<thinking is fun");
    expect_split(ThinkMode::Think, ">\nTwo and two.\n</think>\n\nFour.", "Two and two.", "Four.");
    expect_split(ThinkMode::Think, ">\nStill thinking </thi", "Still thinking </thi", "");
    expect_split(ThinkMode::NoThink, ">\nFour.", "", "Four.");
    expect_split(ThinkMode::NoThink, "\nFour.", "", "Four.");
}

}  // namespace
}  // namespace rwkv
