#pragma once
// What --resume needs beyond the model checkpoint: the step, the data-order generator, the optimiser's moments,
// and the run's settings, tied by a hash to the exact weights they were saved with. A small binary file: magic
// "RWKVTRN1", u64 length + JSON header, u64 length + the optimiser's state. Written atomically.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/params.h"

namespace rwkv::train {

struct TrainerState {
    int64_t step = 0;
    int64_t tokens_seen = 0;
    std::string model_file;  // the checkpoint beside it that these belong to
    uint64_t model_hash = 0;
    std::string rng;         // std::mt19937_64 as its stream operator writes it
    std::vector<uint8_t> optimizer;
};

// FNV-1a over every parameter's bytes.
uint64_t weights_hash(const ParamSet<float>& params);

void save_trainer_state(const std::string& path, const TrainerState& st, const nlohmann::json& config);
// Throws rwkv::Error naming the file on a bad magic, truncation or a malformed header; `config` receives the
// settings the state was saved with.
TrainerState load_trainer_state(const std::string& path, nlohmann::json& config);

}  // namespace rwkv::train
