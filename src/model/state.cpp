#include "rwkv/state.h"

#include <cstring>

#include "core/file_util.h"
#include "core/hash.h"
#include "rwkv/error.h"
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

State State::load(const std::string& path, const Model& model) {
    // Any longer file is not this model's state: refuse it before reading it whole.
    return from_bytes(read_file_bytes(path, file_bytes(model)), model, path);
}

State State::from_bytes(const std::vector<uint8_t>& bytes, const Model& model, const std::string& where) {
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
