#pragma once
// The training loop: random windows from a token file, data-parallel over the ranks of a communicator,
// gradient accumulation, AdamW with its schedule, validation loss (and bits per byte), a progress line, and
// checkpoints in the official .pth layout with a separate trainer state, so that --resume continues exactly
// where an interrupted run stopped.
#include <cstdint>
#include <functional>
#include <string>

#include "model/architecture.h"
#include "rwkv/tensor.h"
#include "train/adamw.h"
#include "train/comm.h"

namespace rwkv::train {

struct TrainOptions {
    std::string data;         // token file (rwkv data)
    std::string out_dir;      // checkpoints and the log go here
    std::string init;         // a checkpoint to fine-tune; empty: a new model of `shape`, initialised officially
    ModelShape shape;         // for a new model (vocab 0: the data's vocabulary)
    bool resume = false;      // continue from out_dir's trainer state
    bool overwrite = false;   // replace the run out_dir holds (without it, or resume, such a folder is refused)
    uint64_t seed = 1;
    int64_t ctx_len = 256;
    int64_t batch = 8;        // sequences per optimiser step, over all ranks
    int64_t micro_batch = 0;  // sequences per forward pass on a rank (0: the rank's whole share)
    int64_t steps = 1000;     // total optimiser steps (the schedule's length)
    int64_t stop_after = 0;   // end this run after this step (checkpoint written), as an interruption would
    double val_fraction = 0.1;
    int64_t eval_every = 100;  // also the checkpoint interval
    int64_t eval_windows = 64;  // validation windows scored each time (0: all)
    int64_t log_every = 10;
    int threads = 1;
    DType save_dtype = DType::F32;  // checkpoint storage; fp32 keeps resume exact
    AdamWConfig optim;
    int keep_checkpoints = 2;
    // For bits per byte when the data's tokens are not bytes: the tokenizer (as --tokenizer) that decodes them.
    std::string tokenizer;
};

struct TrainReport {
    int64_t steps_done = 0;
    double train_loss = 0;      // mean over the last log interval
    double val_loss = 0;        // nats per token, last evaluation
    double val_bits_per_byte = 0;  // 0 when the tokenizer's bytes per token are unknown
    double tokens_per_s = 0;    // this run, all ranks together
    double gflops = 0;          // achieved (6 × matmul weights × tokens + WKV) / time
    std::string checkpoint;     // path of the last model checkpoint written
    int64_t params = 0;
};

// `log` receives the human-readable progress lines (rank 0 only); returns the run's summary on every rank.
TrainReport train(const TrainOptions& options, Comm& comm, const std::function<void(const std::string&)>& log);

}  // namespace rwkv::train
