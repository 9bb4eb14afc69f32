// Token files and the training/validation split: the format round-trips, every corrupt header field is
// named, and sampling stays reproducible and inside the training part.
#include "train/token_data.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>

#include "rwkv/error.h"
#include "test_paths.h"

namespace rwkv::train {
namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void spit(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <typename T>
void poke(std::string& bytes, size_t offset, T v) {
    std::memcpy(bytes.data() + offset, &v, sizeof v);
}

// The message of the rwkv::Error that opening `bytes` as a token file throws ("" when none is thrown).
std::string open_error(const std::string& dir, const std::string& bytes) {
    const std::string path = dir + "/bad.tok";
    spit(path, bytes);
    try {
        TokenFile f(path);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

std::vector<int32_t> iota_tokens(size_t n, int32_t vocab) {
    std::vector<int32_t> t(n);
    for (size_t i = 0; i < n; ++i) t[i] = static_cast<int32_t>((i * 7919) % static_cast<size_t>(vocab));
    return t;
}

std::shared_ptr<const TokenFile> make_file(const std::string& dir, const std::vector<int32_t>& tokens,
                                           uint32_t vocab = 1000) {
    const std::string path = dir + "/data.tok";
    write_token_file(path, tokens, vocab, "bytes");
    return std::make_shared<const TokenFile>(path);
}

TEST(TokenFile, RoundTripsInBothWidths) {
    const std::string dir = test::temp_dir("train_data_roundtrip");
    struct Case {
        uint32_t vocab, width;
        const char* kind;
    };
    for (const Case c : {Case{256, 2, "bytes"}, Case{65536, 2, "world"}, Case{65537, 4, "neox"}, Case{100000, 4, "x"}}) {
        std::vector<int32_t> tokens = iota_tokens(100003, static_cast<int32_t>(c.vocab));
        tokens.push_back(static_cast<int32_t>(c.vocab - 1));
        tokens.push_back(0);
        const std::string path = dir + "/t.tok";
        write_token_file(path, tokens, c.vocab, c.kind);
        EXPECT_EQ(slurp(path).size(), 64 + tokens.size() * c.width);
        const TokenFile f(path);
        EXPECT_EQ(f.size(), tokens.size());
        EXPECT_EQ(f.info().n_tokens, tokens.size());
        EXPECT_EQ(f.info().vocab_size, c.vocab);
        EXPECT_EQ(f.info().token_bytes, c.width);
        EXPECT_EQ(f.info().tokenizer, c.kind);
        std::vector<int32_t> back(tokens.size());
        f.read(0, back.size(), back.data());
        EXPECT_EQ(back, tokens);
        EXPECT_EQ(f[tokens.size() - 2], static_cast<int32_t>(c.vocab - 1));
        std::vector<int32_t> mid(5);
        f.read(10, 5, mid.data());
        EXPECT_EQ(mid, std::vector<int32_t>(tokens.begin() + 10, tokens.begin() + 15));
        EXPECT_THROW(f[tokens.size()], Error);
        EXPECT_THROW(f.read(tokens.size() - 2, 3, mid.data()), Error);
        EXPECT_THROW(f.read(~uint64_t{0}, 2, mid.data()), Error);
    }
}

TEST(TokenFile, EmptyFileRoundTrips) {
    const std::string dir = test::temp_dir("train_data_empty");
    write_token_file(dir + "/e.tok", {}, 256, "bytes");
    EXPECT_EQ(TokenFile(dir + "/e.tok").size(), 0u);
}

TEST(TokenFile, WriterRejectsBadInputAndLeavesNoFile) {
    const std::string dir = test::temp_dir("train_data_writer");
    const std::string path = dir + "/w.tok";
    EXPECT_THROW(write_token_file(path, {1, 256}, 256, "bytes"), Error);
    EXPECT_THROW(write_token_file(path, {1, -1}, 256, "bytes"), Error);
    EXPECT_THROW(write_token_file(path, {1}, 0, "bytes"), Error);
    EXPECT_THROW(write_token_file(path, {1}, 256, ""), Error);
    EXPECT_THROW(write_token_file(path, {1}, 256, std::string(33, 'a')), Error);
    EXPECT_FALSE(std::ifstream(path).good());
}

TEST(TokenFile, EveryCorruptHeaderFieldIsNamed) {
    const std::string dir = test::temp_dir("train_data_corrupt");
    write_token_file(dir + "/good.tok", {1, 2, 3, 4, 5}, 256, "bytes");
    const std::string good = slurp(dir + "/good.tok");
    ASSERT_EQ(good.size(), 64u + 10u);
    ASSERT_EQ(open_error(dir, good), "");

    const auto expect_named = [&](const std::string& bytes, const std::string& field, const std::string& what) {
        const std::string msg = open_error(dir, bytes);
        EXPECT_NE(msg.find(field), std::string::npos) << what << ": " << msg;
        EXPECT_NE(msg.find("bad.tok"), std::string::npos) << what << ": " << msg;
    };
    std::string b = good;
    b[3] = 'X';
    expect_named(b, "magic", "bad magic");
    b = good;
    poke<uint32_t>(b, 8, 2);
    expect_named(b, "version", "bad version");
    b = good;
    poke<uint32_t>(b, 12, 3);
    expect_named(b, "token_bytes", "width 3");
    b = good;
    poke<uint32_t>(b, 12, 4);
    expect_named(b, "n_tokens", "width 4 over 2-byte tokens");
    b = good;
    poke<uint32_t>(b, 24, 70000);
    expect_named(b, "token_bytes", "2-byte width for a vocab past 65536");
    b = good;
    poke<uint32_t>(b, 24, 0);
    expect_named(b, "vocab_size", "vocab 0");
    b = good;
    poke<uint32_t>(b, 24, 5);
    expect_named(b, "vocab_size 5", "a token >= vocab");
    b = good;
    poke<uint64_t>(b, 16, 6);
    expect_named(b, "n_tokens", "count larger than the file");
    b = good;
    poke<uint64_t>(b, 16, ~uint64_t{0});
    expect_named(b, "n_tokens", "count that would overflow");
    b = good;
    poke<uint64_t>(b, 16, uint64_t{1} << 63);
    expect_named(b, "n_tokens", "count that overflows times 2");
    expect_named(good.substr(0, good.size() - 1), "n_tokens", "truncated tokens");
    expect_named(good.substr(0, good.size() - 2), "n_tokens", "one token short");
    expect_named(good + std::string(2, '\0'), "n_tokens", "trailing bytes");
    expect_named(good.substr(0, 40), "header", "truncated header");
    expect_named("", "header", "empty file");
    b = good;
    b[28] = '\0';
    expect_named(b, "tokenizer", "empty tokenizer kind");
    b = good;
    b[28 + 10] = 'x';
    expect_named(b, "tokenizer", "tokenizer kind with junk after the padding");
    b = good;
    b[61] = 1;
    expect_named(b, "reserved", "reserved bytes");

    // A token past the vocabulary in a 4-byte file.
    write_token_file(dir + "/wide.tok", {1, 70000, 3}, 70001, "world");
    b = slurp(dir + "/wide.tok");
    poke<uint32_t>(b, 64 + 4, 70001);
    const std::string msg = open_error(dir, b);
    EXPECT_NE(msg.find("70001"), std::string::npos) << msg;
    EXPECT_NE(msg.find("index 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("vocab_size"), std::string::npos) << msg;
}

TEST(TokenFile, MissingFileIsAnError) {
    EXPECT_THROW(TokenFile(test::temp_dir("train_data_missing") + "/none.tok"), Error);
}

TEST(TokenDataset, SplitFollowsTheFraction) {
    const std::string dir = test::temp_dir("train_data_split");
    auto f = make_file(dir, iota_tokens(1000, 1000));
    TokenDataset d(f, 0.1, 16);
    EXPECT_EQ(d.train_tokens(), 900u);
    EXPECT_EQ(d.val_tokens(), 100u);
    EXPECT_EQ(d.ctx_len(), 16);
    TokenDataset all(f, 0.0, 16);
    EXPECT_EQ(all.train_tokens(), 1000u);
    EXPECT_EQ(all.val_tokens(), 0u);
    EXPECT_TRUE(all.validation_windows().empty());
    // floor(1000 * 0.0015) = 1
    EXPECT_EQ(TokenDataset(f, 0.0015, 4).val_tokens(), 1u);
}

TEST(TokenDataset, RejectsBadArguments) {
    const std::string dir = test::temp_dir("train_data_args");
    auto f = make_file(dir, iota_tokens(100, 1000));
    for (double bad : {-0.1, 1.0, 1.5, std::nan("")}) {
        try {
            TokenDataset d(f, bad, 8);
            ADD_FAILURE() << "val_fraction " << bad << " accepted";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("val_fraction"), std::string::npos) << e.what();
        }
    }
    EXPECT_THROW(TokenDataset(f, 0.1, 0), Error);
    EXPECT_THROW(TokenDataset(f, 0.1, -3), Error);
    EXPECT_THROW(TokenDataset(nullptr, 0.1, 8), Error);
    TokenDataset d(f, 0.1, 8);
    std::mt19937_64 rng(1);
    EXPECT_THROW(d.sample(0, rng), Error);
    EXPECT_THROW(d.sample(-1, rng), Error);
}

TEST(TokenDataset, SamplingIsDeterministicAndStaysInTheTrainingPart) {
    const std::string dir = test::temp_dir("train_data_sample");
    // Token i is i, so a window's values say where it came from.
    std::vector<int32_t> tokens(5000);
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>(i);
    auto f = make_file(dir, tokens, 5000);
    const int64_t ctx = 32, B = 8;
    TokenDataset d(f, 0.2, ctx);
    ASSERT_EQ(d.train_tokens(), 4000u);

    std::mt19937_64 a(42), b(42), c(43);
    const auto sa = d.sample(B, a), sb = d.sample(B, b), sc = d.sample(B, c);
    ASSERT_EQ(sa.size(), static_cast<size_t>(B * (ctx + 1)));
    EXPECT_EQ(sa, sb);
    EXPECT_NE(sa, sc);

    std::mt19937_64 rng(7);
    int32_t lowest = 1 << 30, highest = -1;
    std::set<int32_t> starts;
    for (int round = 0; round < 500; ++round) {
        const auto s = d.sample(B, rng);
        for (int64_t r = 0; r < B; ++r) {
            const int32_t* w = s.data() + r * (ctx + 1);
            starts.insert(w[0]);
            for (int64_t t = 0; t <= ctx; ++t) ASSERT_EQ(w[t], w[0] + t) << "a window is contiguous";
            lowest = std::min(lowest, w[0]);
            highest = std::max(highest, w[ctx]);
        }
    }
    EXPECT_GE(lowest, 0);
    EXPECT_LT(highest, 4000) << "a training window reached the validation part";
    // 4000 draws over 3968 starts: both ends of the range are reachable and most of it is seen.
    EXPECT_GT(starts.size(), 2000u);
    EXPECT_LE(lowest, 20);
    EXPECT_GE(highest, 3980);
}

TEST(TokenDataset, ExactlyOneWindowOfTrainingDataIsEnough) {
    const std::string dir = test::temp_dir("train_data_one_window");
    std::vector<int32_t> tokens = iota_tokens(9, 1000);
    auto f = make_file(dir, tokens);
    TokenDataset d(f, 0.0, 8);
    std::mt19937_64 rng(3);
    EXPECT_EQ(d.sample(2, rng), [&] {
        std::vector<int32_t> two = tokens;
        two.insert(two.end(), tokens.begin(), tokens.end());
        return two;
    }());
}

TEST(TokenDataset, TooShortDataIsAClearError) {
    const std::string dir = test::temp_dir("train_data_short");
    auto f = make_file(dir, iota_tokens(20, 1000));
    TokenDataset d(f, 0.5, 10);  // 10 training tokens, windows of 11
    std::mt19937_64 rng(1);
    try {
        d.sample(1, rng);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("10 tokens"), std::string::npos) << msg;
        EXPECT_NE(msg.find("ctx_len"), std::string::npos) << msg;
    }
}

TEST(TokenDataset, ValidationWindowsCoverEachTargetOnce) {
    const std::string dir = test::temp_dir("train_data_val");
    for (size_t n : {1000u, 1003u, 1001u, 1002u, 1017u}) {
        std::vector<int32_t> tokens(n);
        for (size_t i = 0; i < n; ++i) tokens[i] = static_cast<int32_t>(i);
        auto f = make_file(dir, tokens, 5000);
        for (int64_t ctx : {1, 7, 16, 100, 500}) {
            TokenDataset d(f, 0.3, ctx);
            const uint64_t begin = d.train_tokens();
            const auto windows = d.validation_windows();
            std::vector<int> seen(n, 0);
            uint64_t expect_first = begin;
            for (size_t k = 0; k < windows.size(); ++k) {
                const auto& w = windows[k];
                ASSERT_GE(w.size(), 2u);
                ASSERT_LE(w.size(), static_cast<size_t>(ctx + 1));
                if (k + 1 < windows.size()) {
                    ASSERT_EQ(w.size(), static_cast<size_t>(ctx + 1));
                }
                EXPECT_EQ(static_cast<uint64_t>(w[0]), expect_first) << "fixed order, starting every ctx_len";
                for (size_t t = 0; t < w.size(); ++t) ASSERT_EQ(w[t], w[0] + static_cast<int32_t>(t));
                for (size_t t = 1; t < w.size(); ++t) ++seen[static_cast<size_t>(w[t])];
                expect_first += static_cast<uint64_t>(ctx);
            }
            for (size_t i = 0; i < n; ++i)
                ASSERT_EQ(seen[i], i > begin ? 1 : 0) << "n " << n << " ctx " << ctx << " token " << i;

            const auto first2 = d.validation_windows(2);
            ASSERT_EQ(first2.size(), std::min<size_t>(2, windows.size()));
            for (size_t k = 0; k < first2.size(); ++k) EXPECT_EQ(first2[k], windows[k]);
            EXPECT_EQ(d.validation_windows(0), windows);
        }
    }
}

TEST(TokenDataset, OneValidationTokenHasNoTargets) {
    const std::string dir = test::temp_dir("train_data_val_one");
    auto f = make_file(dir, iota_tokens(100, 1000));
    EXPECT_TRUE(TokenDataset(f, 0.01, 8).validation_windows().empty());
    EXPECT_EQ(TokenDataset(f, 0.02, 8).validation_windows().size(), 1u);
}

}  // namespace
}  // namespace rwkv::train
