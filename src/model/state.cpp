#include "rwkv/state.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/file_util.h"
#include "core/hash.h"
#include "rwkv/error.h"
#include "rwkv/formats.h"
#include "rwkv/model.h"

namespace rwkv {

namespace {
constexpr char kMagic[8] = {'R', 'W', 'K', 'V', 'S', 'T', 'A', 'T'};
constexpr uint32_t kFormatVersion = 1;
// v4's running maximum starts so low that the first token's exp() term dominates.
constexpr float kV4MinusInf = -1e30f;

struct Header {
    char magic[8];
    uint32_t format_version;
    uint32_t generation;
    int64_t n_layer, n_embd, n_head, head_size;
    uint64_t fingerprint;
    uint64_t n_floats;
};
}  // namespace

int64_t StateShape::att_floats() const { return version == 4 ? 3 * n_embd : n_head * head_size * head_size; }

int64_t StateShape::layer_floats() const { return 2 * n_embd + att_floats(); }

State::State(const StateShape& shape, uint64_t fingerprint)
    : shape_(shape), fingerprint_(fingerprint), data_(static_cast<size_t>(shape.n_layer * shape.layer_floats())) {
    reset();
}

void State::reset() {
    std::fill(data_.begin(), data_.end(), 0.0f);
    if (shape_.version == 4)
        for (int64_t l = 0; l < shape_.n_layer; ++l) {
            float* pp = att(l) + 2 * shape_.n_embd;
            std::fill(pp, pp + shape_.n_embd, kV4MinusInf);
        }
}

std::vector<uint8_t> State::to_bytes() const {
    Header h{};
    std::memcpy(h.magic, kMagic, sizeof kMagic);
    h.format_version = kFormatVersion;
    h.generation = static_cast<uint32_t>(shape_.version);
    h.n_layer = shape_.n_layer;
    h.n_embd = shape_.n_embd;
    h.n_head = shape_.n_head;
    h.head_size = shape_.head_size;
    h.fingerprint = fingerprint_;
    h.n_floats = data_.size();
    Fnv1a sum;
    sum.add(data_.data(), data_.size() * sizeof(float));
    const uint64_t checksum = sum.value();
    std::vector<uint8_t> bytes(sizeof h + data_.size() * sizeof(float) + sizeof checksum);
    std::memcpy(bytes.data(), &h, sizeof h);
    std::memcpy(bytes.data() + sizeof h, data_.data(), data_.size() * sizeof(float));
    std::memcpy(bytes.data() + bytes.size() - sizeof checksum, &checksum, sizeof checksum);
    return bytes;
}

void State::save(const std::string& path) const {
    const std::vector<uint8_t> bytes = to_bytes();
    write_file_atomic(path, bytes.data(), bytes.size());
}

size_t State::file_bytes(const Model& model) {
    const StateShape want = model.state_shape();
    return sizeof(Header) + static_cast<size_t>(want.n_layer * want.layer_floats()) * sizeof(float) + sizeof(uint64_t);
}

namespace {

// The most a state-tuning file for `model` can take: its floats in fp32, with room for the container.
size_t tuned_file_limit(const Model& model) {
    const StateShape s = model.state_shape();
    return static_cast<size_t>(s.n_layer * s.att_floats()) * sizeof(float) + (size_t{1} << 20);
}

bool has_magic(const std::vector<uint8_t>& bytes) {
    return bytes.size() >= sizeof kMagic && std::memcmp(bytes.data(), kMagic, sizeof kMagic) == 0;
}

// "blocks.N.att.time_state" -> N; -1 for any other name.
int64_t time_state_layer(const std::string& name) {
    constexpr std::string_view head = "blocks.", tail = ".att.time_state";
    if (name.size() <= head.size() + tail.size() || name.compare(0, head.size(), head) != 0 ||
        name.compare(name.size() - tail.size(), tail.size(), tail) != 0)
        return -1;
    const std::string digits = name.substr(head.size(), name.size() - head.size() - tail.size());
    if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
    return std::stoll(digits);
}

// An official state-tuning file (RWKV-PEFT, ChatRWKV): `blocks.N.att.time_state` [H, N, N] for every layer, the
// tuned att_kv; the token-shift parts start at zero. RWKV-7's file is laid out as its att_kv ([head, value, key]);
// RWKV-5/6 files are too, while their att_kv is [head, key, value], so those are transposed (as the official
// code does).
State from_time_state(const TensorFile& file, const Model& model, const std::string& where) {
    const StateShape shape = model.state_shape();
    if (shape.version < 5)
        throw Error(where + ": a state-tuning file (blocks.N.att.time_state) is for RWKV-5, 6 and 7; this model is RWKV-" +
                    std::to_string(shape.version));
    const int64_t H = shape.n_head, N = shape.head_size;
    State s(shape, model.fingerprint());
    std::vector<char> seen(static_cast<size_t>(shape.n_layer), 0);
    for (const auto& [name, t] : file.tensors) {
        const int64_t layer = time_state_layer(name);
        if (layer < 0)
            throw Error(where + ": '" + name + "' is not part of a state (expected only blocks.N.att.time_state)");
        if (layer >= shape.n_layer)
            throw Error(where + ": '" + name + "' is for a layer this model (" + std::to_string(shape.n_layer) +
                        " layers) does not have");
        if (t.shape != std::vector<int64_t>{H, N, N})
            throw Error(where + ": '" + name + "' has shape " + t.shape_string() + "; this model's is [" +
                        std::to_string(H) + ", " + std::to_string(N) + ", " + std::to_string(N) + "]");
        seen[static_cast<size_t>(layer)] = 1;
        const std::vector<float> v = t.to_float();
        float* att = s.att(layer);
        for (int64_t h = 0; h < H; ++h)
            for (int64_t i = 0; i < N; ++i)
                for (int64_t j = 0; j < N; ++j) {
                    const float x = v[static_cast<size_t>((h * N + i) * N + j)];
                    if (!std::isfinite(x)) throw Error(where + ": '" + name + "' holds a value that is not a finite number");
                    const int64_t to = shape.version == 7 ? (h * N + i) * N + j : (h * N + j) * N + i;
                    att[to] = x;
                }
    }
    for (int64_t l = 0; l < shape.n_layer; ++l)
        if (!seen[static_cast<size_t>(l)])
            throw Error(where + ": no blocks." + std::to_string(l) + ".att.time_state (a state-tuning file has one per layer)");
    return s;
}

// A state-tuning file that came as bytes (an upload), read through a file of its own that is gone afterwards.
State time_state_from_bytes(const std::vector<uint8_t>& bytes, const Model& model, const std::string& where) {
    std::string path = (std::filesystem::temp_directory_path() / "rwkv-state-XXXXXX").string();
    const int fd = mkstemp(path.data());
    if (fd < 0) throw Error(where + ": cannot make a temporary file to read the state from");
    struct Remove {
        const std::string& p;
        ~Remove() { ::unlink(p.c_str()); }
    } remove{path};
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n <= 0) {
            ::close(fd);
            throw Error(where + ": cannot write a temporary file to read the state from");
        }
        done += static_cast<size_t>(n);
    }
    ::close(fd);
    try {
        return from_time_state(load_tensor_file(path), model, where);
    } catch (const Error& e) {
        // Name the upload, not the temporary file.
        std::string msg = e.what();
        if (msg.rfind(path, 0) == 0) msg = where + msg.substr(path.size());
        throw Error(msg);
    }
}

}  // namespace

size_t State::max_file_bytes(const Model& model) { return std::max(file_bytes(model), tuned_file_limit(model)); }

State State::load(const std::string& path, const Model& model) {
    // Any longer file is not a state for this model: refuse it before reading it whole.
    const std::vector<uint8_t> bytes = read_file_bytes(path, max_file_bytes(model));
    if (has_magic(bytes)) return from_bytes(bytes, model, path);
    return from_time_state(load_tensor_file(path), model, path);
}

State State::from_bytes(const std::vector<uint8_t>& bytes, const Model& model, const std::string& where) {
    if (!has_magic(bytes)) {
        if (bytes.size() > tuned_file_limit(model)) throw Error(where + ": too large to be a state for this model");
        // A zip (torch.save) or a safetensors file (a little-endian header length, then its JSON).
        const bool zip = bytes.size() >= 4 && std::memcmp(bytes.data(), "PK\x03\x04", 4) == 0;
        const bool safetensors = bytes.size() >= 9 && bytes[8] == '{';
        if (zip || safetensors)
            return time_state_from_bytes(bytes, model, where);
    }
    const StateShape want = model.state_shape();
    const size_t need = file_bytes(model);
    Header h;
    if (bytes.size() < sizeof h) throw Error(where + ": not a state file (too short)");
    std::memcpy(&h, bytes.data(), sizeof h);
    if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0) throw Error(where + ": not a state file (bad magic)");
    if (h.format_version != kFormatVersion)
        throw Error(where + ": state file format version " + std::to_string(h.format_version) + " is not supported");
    StateShape got;
    got.version = static_cast<int>(h.generation);
    got.n_layer = h.n_layer;
    got.n_embd = h.n_embd;
    got.n_head = h.n_head;
    got.head_size = h.head_size;
    if (!(got == want) || h.fingerprint != model.fingerprint())
        throw Error(where + ": state was saved from a different model (RWKV v" + std::to_string(got.version) + ", " +
                    std::to_string(got.n_layer) + " layers, n_embd " + std::to_string(got.n_embd) + ")");
    State s(want, model.fingerprint());
    if (h.n_floats != s.data_.size() || bytes.size() != need) throw Error(where + ": state file is truncated or padded");
    std::memcpy(s.data_.data(), bytes.data() + sizeof h, s.data_.size() * sizeof(float));
    uint64_t checksum;
    std::memcpy(&checksum, bytes.data() + bytes.size() - sizeof checksum, sizeof checksum);
    Fnv1a sum;
    sum.add(s.data_.data(), s.data_.size() * sizeof(float));
    if (sum.value() != checksum) throw Error(where + ": state file is corrupted (checksum mismatch)");
    return s;
}

}  // namespace rwkv
