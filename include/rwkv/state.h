#pragma once
// The recurrent state of one sequence: everything a model remembers of the tokens it has read.
// Constant size however long the context. Layout per layer, as the official implementation's:
//   att_x_prev [C], then v4: att_aa, att_bb, att_pp [C each]; v5-v7: att_kv [H, N, N]; then ffn_x_prev [C].
// att_kv is indexed [head, key, value] for v5/v6 and [head, value, key] for v7, as the official code.
#include <cstdint>
#include <string>
#include <vector>

namespace rwkv {

class Model;

struct StateShape {
    int version = 0;  // generation: 4..7
    int64_t n_layer = 0, n_embd = 0, n_head = 0, head_size = 0;

    int64_t att_floats() const;    // per layer, between att_x_prev and ffn_x_prev
    int64_t layer_floats() const;  // per layer, all parts
    bool operator==(const StateShape&) const = default;
};

class State {
public:
    State() = default;
    State(const StateShape& shape, uint64_t model_fingerprint);

    const StateShape& shape() const { return shape_; }
    uint64_t model_fingerprint() const { return fingerprint_; }

    // Back to the state before any token (zeros; v4's running maximum at -1e30).
    void reset();

    float* att_x_prev(int64_t layer) { return layer_base(layer); }
    float* att(int64_t layer) { return layer_base(layer) + shape_.n_embd; }
    float* ffn_x_prev(int64_t layer) { return layer_base(layer) + shape_.n_embd + shape_.att_floats(); }

    // All parts of all layers, in the official order (what reference state.f32 files hold).
    std::vector<float>& data() { return data_; }
    const std::vector<float>& data() const { return data_; }

    // Versioned binary file recording the model it belongs to; written atomically.
    void save(const std::string& path) const;
    // A state file of ours, or an official state-tuning file (RWKV-PEFT's and ChatRWKV's `blocks.N.att.time_state`
    // [H, N, N] per layer, as .pth or .safetensors; RWKV-5/6/7): the tuned att_kv with the token shifts at zero.
    // Throws rwkv::Error when the file is malformed or belongs to a different model (or shape), naming the tensor.
    static State load(const std::string& path, const Model& model);
    // Either kind of file as bytes (what save writes, what the server's state upload receives); `where` names them
    // in errors.
    std::vector<uint8_t> to_bytes() const;
    static State from_bytes(const std::vector<uint8_t>& bytes, const Model& model, const std::string& where);
    // The size of a state file for `model`.
    static size_t file_bytes(const Model& model);
    // The largest file of either kind load() and from_bytes() take for `model`.
    static size_t max_file_bytes(const Model& model);

private:
    float* layer_base(int64_t layer) { return data_.data() + layer * shape_.layer_floats(); }

    StateShape shape_;
    uint64_t fingerprint_ = 0;
    std::vector<float> data_;
};

}  // namespace rwkv
