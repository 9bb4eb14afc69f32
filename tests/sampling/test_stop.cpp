// StopMatcher: stop strings on text that arrives in pieces.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rwkv/stop.h"

namespace rwkv {
namespace {

struct Outcome {
    std::string text;  // everything emitted, flush included
    bool stopped;
    std::string matched;
};

Outcome run(const std::vector<std::string>& stops, const std::vector<std::string>& pieces) {
    StopMatcher m(stops);
    Outcome r;
    for (const auto& p : pieces) r.text += m.push(p);
    r.text += m.flush();
    r.stopped = m.stopped();
    r.matched = m.matched();
    return r;
}

std::vector<std::string> cut(const std::string& s, size_t every) {
    std::vector<std::string> pieces;
    for (size_t i = 0; i < s.size(); i += every) pieces.push_back(s.substr(i, every));
    return pieces;
}

TEST(StopMatcher, StopSplitAcrossPieces) {
    StopMatcher m({"</s>"});
    EXPECT_EQ(m.push("Hello <"), "Hello ");
    EXPECT_EQ(m.push("/"), "");
    EXPECT_FALSE(m.stopped());
    EXPECT_EQ(m.push("s> and more"), "");
    EXPECT_TRUE(m.stopped());
    EXPECT_EQ(m.matched(), "</s>");
    EXPECT_EQ(m.push("later text"), "");
    EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, TextBeforeStopInSamePieceIsEmitted) {
    StopMatcher m({"STOP"});
    EXPECT_EQ(m.push("abc STOP def"), "abc ");
    EXPECT_TRUE(m.stopped());
}

TEST(StopMatcher, PartialMatchIsReleasedWhenItFails) {
    StopMatcher m({"STOP"});
    EXPECT_EQ(m.push("ST"), "");
    EXPECT_EQ(m.push("ART"), "START");
    EXPECT_EQ(m.push("xS"), "x");
    EXPECT_EQ(m.push("Sy"), "SSy");
    EXPECT_EQ(m.push("STO"), "");
    EXPECT_EQ(m.push("P"), "");
    EXPECT_TRUE(m.stopped());
}

TEST(StopMatcher, OnlyTheUndecidedSuffixIsHeld) {
    StopMatcher m({"\n\nUser:"});
    EXPECT_EQ(m.push("one\ntwo\n"), "one\ntwo");
    EXPECT_EQ(m.push("\nUs"), "");
    EXPECT_EQ(m.push("ed"), "\n\nUsed");
    EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, MultipleStopStrings) {
    StopMatcher m({"\n\n", "User:"});
    EXPECT_EQ(m.push("a\nb"), "a\nb");
    EXPECT_EQ(m.push("\n"), "");
    EXPECT_EQ(m.push("User: hi"), "\n");
    EXPECT_TRUE(m.stopped());
    EXPECT_EQ(m.matched(), "User:");
}

// "aab" inside "aaab": the held prefix must slide by one, not be dropped.
TEST(StopMatcher, OverlappingPrefixOfItself) {
    EXPECT_EQ(run({"aab"}, cut("xaaab", 1)).text, "xa");
    EXPECT_EQ(run({"aab"}, {"xaaab"}).text, "xa");
    EXPECT_EQ(run({"abab"}, cut("abababz", 1)).text, "");
}

// Stop strings that share prefixes or contain each other: the first to complete wins.
TEST(StopMatcher, OverlappingStopStrings) {
    const Outcome inner = run({"abcd", "bc"}, {"abcd"});
    EXPECT_EQ(inner.text, "a");
    EXPECT_EQ(inner.matched, "bc");
    const Outcome same_end = run({"yz", "xyz"}, {"wxyz"});
    EXPECT_EQ(same_end.text, "w");
    EXPECT_EQ(same_end.matched, "xyz");  // both end at z: the longer one is cut whole
    const Outcome shared = run({"abc", "abd"}, cut("zzabd", 1));
    EXPECT_EQ(shared.text, "zz");
    EXPECT_EQ(shared.matched, "abd");
}

// However the text is cut into pieces, the result is the same.
TEST(StopMatcher, IndependentOfPieceBoundaries) {
    const std::vector<std::vector<std::string>> stop_sets = {
        {"abcd", "bc"}, {"aab"}, {"\n\n", "User:"}, {"xyz", "yz", "z!"}, {"never"}};
    const std::vector<std::string> texts = {
        "zabcdz", "aaaab", "hi\nUser: x\n\n", "wxyz!", "text without stops", "ab\nUseR:\n\n"};
    for (const auto& stops : stop_sets) {
        for (const auto& text : texts) {
            const Outcome whole = run(stops, {text});
            for (size_t every = 1; every <= 4; ++every) {
                const Outcome pieces = run(stops, cut(text, every));
                EXPECT_EQ(pieces.text, whole.text) << text << " every " << every;
                EXPECT_EQ(pieces.stopped, whole.stopped) << text << " every " << every;
                EXPECT_EQ(pieces.matched, whole.matched) << text << " every " << every;
            }
        }
    }
}

TEST(StopMatcher, StopAtTheVeryBeginning) {
    StopMatcher whole({"</s>"});
    EXPECT_EQ(whole.push("</s>rest"), "");
    EXPECT_TRUE(whole.stopped());

    StopMatcher split({"</s>"});
    EXPECT_EQ(split.push("<"), "");
    EXPECT_EQ(split.push("/s>"), "");
    EXPECT_TRUE(split.stopped());
}

TEST(StopMatcher, FlushReleasesHeldText) {
    StopMatcher m({"</s>"});
    EXPECT_EQ(m.push("end </"), "end ");
    EXPECT_EQ(m.flush(), "</");
    EXPECT_EQ(m.flush(), "");
    EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, NoStopStringsPassEverythingThrough) {
    StopMatcher m({});
    EXPECT_EQ(m.push("anything <"), "anything <");
    EXPECT_EQ(m.flush(), "");
    StopMatcher empty_only({""});
    EXPECT_EQ(empty_only.push("abc"), "abc");
    EXPECT_FALSE(empty_only.stopped());
}

TEST(StopMatcher, MultiByteStopSplitInsideACharacter) {
    const std::string stop = "\xE3\x80\x82";  // U+3002 IDEOGRAPHIC FULL STOP
    StopMatcher m({stop});
    EXPECT_EQ(m.push("ok\xE3"), "ok");
    EXPECT_EQ(m.push("\x80"), "");
    EXPECT_EQ(m.push("\x82more"), "");
    EXPECT_TRUE(m.stopped());
}

TEST(StopMatcher, ResetStartsOver) {
    StopMatcher m({"ab"});
    EXPECT_EQ(m.push("xab"), "x");
    ASSERT_TRUE(m.stopped());
    m.reset();
    EXPECT_FALSE(m.stopped());
    EXPECT_EQ(m.matched(), "");
    EXPECT_EQ(m.push("a"), "");
    EXPECT_EQ(m.push("c"), "ac");
}

}  // namespace
}  // namespace rwkv
