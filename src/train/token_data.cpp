#include "train/token_data.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "formats/atomic_stream.h"
#include "rwkv/error.h"

namespace rwkv::train {

namespace {

constexpr char kMagic[8] = {'R', 'W', 'K', 'V', 'T', 'O', 'K', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 64;
constexpr size_t kKindSize = 32;
// Byte offsets of the header fields; 60..63 are reserved and written as zero.
constexpr size_t kOffVersion = 8, kOffWidth = 12, kOffCount = 16, kOffVocab = 24, kOffKind = 28, kOffReserved = 60;
// Tokens come back as int32_t, so an id must fit one.
constexpr uint64_t kMaxVocab = uint64_t{1} << 31;

uint32_t width_for(uint32_t vocab_size) { return vocab_size <= 65536 ? 2 : 4; }

void put_le(uint8_t* p, uint64_t v, size_t n) {
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint64_t get_le(const uint8_t* p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
    return v;
}

// The width is 2 or 4; on a little-endian host the file's bytes are already the values.
uint32_t token_at(const uint8_t* p, uint32_t width) {
    if constexpr (std::endian::native == std::endian::little) {
        if (width == 2) {
            uint16_t v;
            std::memcpy(&v, p, 2);
            return v;
        }
        uint32_t v;
        std::memcpy(&v, p, 4);
        return v;
    } else {
        return static_cast<uint32_t>(get_le(p, width));
    }
}

void check_kind(const std::string& kind) {
    if (kind.empty() || kind.size() > kKindSize)
        throw Error("token file: tokenizer kind '" + kind + "' must be 1 to " + std::to_string(kKindSize) + " bytes");
    for (char c : kind)
        if (c < 0x21 || c > 0x7e) throw Error("token file: tokenizer kind '" + kind + "' must be printable ASCII");
}

}  // namespace

void write_token_file(const std::string& path, const std::vector<int32_t>& tokens, uint32_t vocab_size,
                      const std::string& tokenizer_kind) {
    if (vocab_size == 0 || vocab_size > kMaxVocab)
        throw Error(path + ": vocab_size " + std::to_string(vocab_size) + " is out of range 1.." +
                    std::to_string(kMaxVocab));
    check_kind(tokenizer_kind);
    // Checked before anything is written, so a bad id leaves no file behind at all.
    for (size_t i = 0; i < tokens.size(); ++i)
        if (tokens[i] < 0 || static_cast<uint32_t>(tokens[i]) >= vocab_size)
            throw Error(path + ": token " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                        " is outside the vocabulary (vocab_size " + std::to_string(vocab_size) + ")");

    const uint32_t width = width_for(vocab_size);
    uint8_t header[kHeaderSize] = {};
    std::memcpy(header, kMagic, sizeof kMagic);
    put_le(header + kOffVersion, kVersion, 4);
    put_le(header + kOffWidth, width, 4);
    put_le(header + kOffCount, tokens.size(), 8);
    put_le(header + kOffVocab, vocab_size, 4);
    std::memcpy(header + kOffKind, tokenizer_kind.data(), tokenizer_kind.size());

    AtomicFileStream out(path);
    out.write(header, sizeof header);
    // Converted in blocks: the whole file never has to exist twice in memory.
    constexpr size_t kBlock = 1 << 16;
    std::vector<uint8_t> buf(kBlock * width);
    for (size_t begin = 0; begin < tokens.size(); begin += kBlock) {
        const size_t n = std::min(kBlock, tokens.size() - begin);
        for (size_t i = 0; i < n; ++i) put_le(buf.data() + i * width, static_cast<uint32_t>(tokens[begin + i]), width);
        out.write(buf.data(), n * width);
    }
    out.commit();
}

TokenFile::TokenFile(const std::string& path) : file_(path) {
    const auto fail = [&](const std::string& why) -> void { throw Error(path + ": token file " + why); };
    if (file_.size() < kHeaderSize)
        fail("header: " + std::to_string(file_.size()) + " bytes, shorter than the " + std::to_string(kHeaderSize) +
             "-byte header");
    const uint8_t* h = file_.data();
    if (std::memcmp(h, kMagic, sizeof kMagic) != 0) fail("magic: not RWKVTOK1 (not a token file written by rwkv data)");

    const uint64_t version = get_le(h + kOffVersion, 4);
    if (version != kVersion)
        fail("version: " + std::to_string(version) + " is not supported (expected " + std::to_string(kVersion) + ")");

    const uint64_t width = get_le(h + kOffWidth, 4);
    if (width != 2 && width != 4) fail("token_bytes: " + std::to_string(width) + " (expected 2 or 4)");

    const uint64_t vocab = get_le(h + kOffVocab, 4);
    if (vocab == 0 || vocab > kMaxVocab)
        fail("vocab_size: " + std::to_string(vocab) + " is out of range 1.." + std::to_string(kMaxVocab));
    if (width == 2 && vocab > 65536)
        fail("token_bytes: 2 cannot hold the ids of vocab_size " + std::to_string(vocab));

    const char* kind = reinterpret_cast<const char*>(h + kOffKind);
    const size_t kind_len = static_cast<size_t>(std::find(kind, kind + kKindSize, '\0') - kind);
    if (kind_len == 0) fail("tokenizer: empty");
    for (size_t i = 0; i < kKindSize; ++i) {
        const auto c = static_cast<unsigned char>(kind[i]);
        if (i < kind_len ? (c < 0x21 || c > 0x7e) : c != 0)
            fail("tokenizer: not printable ASCII padded with NUL bytes");
    }
    if (get_le(h + kOffReserved, 4) != 0) fail("reserved bytes 60..63: not zero");

    // Compared by division so a hostile count cannot overflow count * width.
    const uint64_t count = get_le(h + kOffCount, 8);
    const uint64_t payload = file_.size() - kHeaderSize;
    if (payload % width != 0 || count != payload / width)
        fail("n_tokens: " + std::to_string(count) + " tokens of " + std::to_string(width) + " bytes disagree with the " +
             std::to_string(payload) + " bytes after the header (truncated or padded file)");

    info_.n_tokens = count;
    info_.vocab_size = static_cast<uint32_t>(vocab);
    info_.token_bytes = static_cast<uint32_t>(width);
    info_.tokenizer.assign(kind, kind_len);
    tokens_ = h + kHeaderSize;

    // Every id checked once here, so read() and the trainer's embedding lookups can trust them.
    for (uint64_t i = 0; i < count; ++i) {
        const uint32_t t = token_at(tokens_ + i * width, info_.token_bytes);
        if (t >= vocab)
            fail("tokens: token " + std::to_string(t) + " at index " + std::to_string(i) + " is >= vocab_size " +
                 std::to_string(vocab));
    }
}

int32_t TokenFile::operator[](uint64_t i) const {
    if (i >= info_.n_tokens)
        throw Error(file_.path() + ": token index " + std::to_string(i) + " is past the end (" +
                    std::to_string(info_.n_tokens) + " tokens)");
    return static_cast<int32_t>(token_at(tokens_ + i * info_.token_bytes, info_.token_bytes));
}

void TokenFile::read(uint64_t begin, uint64_t n, int32_t* out) const {
    if (begin > info_.n_tokens || n > info_.n_tokens - begin)
        throw Error(file_.path() + ": tokens [" + std::to_string(begin) + ", +" + std::to_string(n) +
                    ") are past the end (" + std::to_string(info_.n_tokens) + " tokens)");
    const uint32_t w = info_.token_bytes;
    const uint8_t* p = tokens_ + begin * w;
    for (uint64_t i = 0; i < n; ++i) out[i] = static_cast<int32_t>(token_at(p + i * w, w));
}

TokenDataset::TokenDataset(std::shared_ptr<const TokenFile> file, double val_fraction, int64_t ctx_len)
    : file_(std::move(file)), ctx_len_(ctx_len) {
    if (!file_) throw Error("token dataset: no token file");
    // Written so NaN fails too.
    if (!(val_fraction >= 0.0 && val_fraction < 1.0))
        throw Error("token dataset: val_fraction " + std::to_string(val_fraction) + " is outside [0, 1)");
    // Below the limit, window sizes (ctx_len + 1) and their products with a batch size stay representable.
    if (ctx_len < 1 || ctx_len > (int64_t{1} << 40))
        throw Error("token dataset: ctx_len " + std::to_string(ctx_len) + " is out of range 1..2^40");
    const uint64_t n = file_->size();
    const auto held = static_cast<uint64_t>(std::floor(static_cast<double>(n) * val_fraction));
    train_end_ = n - std::min(held, n);
}

uint64_t TokenDataset::val_tokens() const { return file_->size() - train_end_; }

std::vector<int32_t> TokenDataset::sample(int64_t B, std::mt19937_64& rng) const {
    const auto window = static_cast<uint64_t>(ctx_len_) + 1;
    if (train_end_ < window)
        throw Error("token dataset: the training part has " + std::to_string(train_end_) +
                    " tokens, fewer than one window of ctx_len + 1 = " + std::to_string(window) +
                    " (use more data, a shorter ctx_len or a smaller val_fraction)");
    if (B < 1 || static_cast<uint64_t>(B) > std::numeric_limits<size_t>::max() / sizeof(int32_t) / window)
        throw Error("token dataset: batch size " + std::to_string(B) + " is out of range");
    std::vector<int32_t> out(static_cast<size_t>(B) * window);
    std::uniform_int_distribution<uint64_t> start(0, train_end_ - window);
    for (int64_t b = 0; b < B; ++b) file_->read(start(rng), window, out.data() + static_cast<size_t>(b) * window);
    return out;
}

std::vector<std::vector<int32_t>> TokenDataset::validation_windows(int64_t max_windows) const {
    const uint64_t end = file_->size();
    const auto step = static_cast<uint64_t>(ctx_len_);
    std::vector<std::vector<int32_t>> windows;
    // Consecutive windows share one token: the last target of one is the first input of the next.
    for (uint64_t begin = train_end_; end - begin >= 2; begin += step) {
        if (max_windows > 0 && windows.size() >= static_cast<uint64_t>(max_windows)) break;
        const uint64_t n = std::min(step + 1, end - begin);
        std::vector<int32_t> w(static_cast<size_t>(n));
        file_->read(begin, n, w.data());
        windows.push_back(std::move(w));
        if (begin + n == end) break;
    }
    return windows;
}

}  // namespace rwkv::train
