// rwkv train: train a new RWKV-7 or RWKV-4 model, or fine-tune a checkpoint, on a token file made by
// `rwkv data`; across processes and machines when launched by mpirun.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "dtype_option.h"
#include "train/comm.h"
#include "train/trainer.h"

namespace rwkv::cli {

namespace {
struct TrainArgs {
    train::TrainOptions o;
    std::string save_dtype = "f32";
};
}  // namespace

Runner add_train(CLI::App& cmd) {
    auto a = std::make_shared<TrainArgs>();
    train::TrainOptions& o = a->o;
    o.shape.version = 7;
    o.shape.n_layer = 4;
    o.shape.n_embd = 256;
    o.shape.n_vocab = 0;
    cmd.add_option("--data", o.data, "token file written by `rwkv data`")->required();
    cmd.add_option("-o,--out", o.out_dir, "directory for checkpoints (rwkv-STEP.pth) and the trainer state")->required();
    cmd.add_option("--init", o.init, "checkpoint to fine-tune (.pth or .safetensors; official layout)");
    CLI::Option* resume =
        cmd.add_flag("--resume", o.resume, "continue the interrupted run in --out with the same settings");
    cmd.add_flag("--overwrite", o.overwrite, "replace the run --out holds (its checkpoints and trainer state)")
        ->excludes(resume);
    cmd.add_option("--version", o.shape.version, "new model: generation, 7 or 4")->capture_default_str();
    cmd.add_option("--layers", o.shape.n_layer, "new model: layers")->capture_default_str();
    cmd.add_option("--embd", o.shape.n_embd, "new model: embedding size (a multiple of 32)")->capture_default_str();
    cmd.add_option("--head-size", o.shape.head_size, "new model: head size (v7)")->capture_default_str();
    cmd.add_option("--ffn", o.shape.ffn_dim, "new model: channel-mix size (0: 4 × embd)");
    cmd.add_option("--vocab", o.shape.n_vocab, "new model: vocabulary size (0: the data's)");
    cmd.add_option("--ctx-len", o.ctx_len, "tokens per training sequence")->capture_default_str();
    cmd.add_option("--batch", o.batch, "sequences per optimiser step, over all processes")->capture_default_str();
    cmd.add_option("--micro-batch", o.micro_batch, "sequences per forward pass (gradient accumulation; 0: all)");
    cmd.add_option("--steps", o.steps, "optimiser steps (the schedule's length)")->capture_default_str();
    cmd.add_option("--stop-after", o.stop_after, "end this run after this step, checkpoint written (--resume goes on)");
    cmd.add_option("--lr", o.optim.lr, "peak learning rate")->capture_default_str();
    cmd.add_option("--lr-final", o.optim.lr_final, "learning rate at the end")->capture_default_str();
    cmd.add_option("--warmup", o.optim.warmup_steps, "linear warm-up steps")->capture_default_str();
    cmd.add_option("--schedule", o.optim.schedule, "cosine, linear or constant")->capture_default_str();
    cmd.add_option("--weight-decay", o.optim.weight_decay, "AdamW decay (matrices only)")->capture_default_str();
    cmd.add_option("--grad-clip", o.optim.grad_clip, "global gradient-norm limit (0: none)")->capture_default_str();
    cmd.add_option("--beta1", o.optim.beta1)->capture_default_str();
    cmd.add_option("--beta2", o.optim.beta2)->capture_default_str();
    cmd.add_option("--adam-eps", o.optim.eps)->capture_default_str();
    cmd.add_option("--val-fraction", o.val_fraction, "held-out tail of the data for validation")->capture_default_str();
    cmd.add_option("--eval-every", o.eval_every, "validate and checkpoint every N steps")->capture_default_str();
    cmd.add_option("--eval-windows", o.eval_windows, "validation windows scored (0: all)")->capture_default_str();
    cmd.add_option("--log-every", o.log_every, "progress line every N steps")->capture_default_str();
    cmd.add_option("--seed", o.seed, "initialisation and data-order seed")->capture_default_str();
    cmd.add_option("--save-dtype", a->save_dtype, "checkpoint storage: f32 (resumable), bf16 or f16")
        ->capture_default_str();
    cmd.add_option("--keep", o.keep_checkpoints, "checkpoints kept in --out (the newest)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd.add_option("--tokenizer", o.tokenizer, "tokenizer of the data, for bits per byte (bytes data needs none)");
    cmd.add_option("-t,--threads", o.threads, "threads per process")->capture_default_str()->check(thread_count());
    return [a] {
        a->o.save_dtype = parse_dtype(a->save_dtype);
        if (a->o.save_dtype != DType::F32 && a->o.save_dtype != DType::BF16 && a->o.save_dtype != DType::F16)
            throw Error("--save-dtype must be f32, bf16 or f16");
        auto comm = train::make_comm(nullptr, nullptr);
        try {
            const train::TrainReport r =
                train::train(a->o, *comm, [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
            if (comm->rank() == 0) {
                const nlohmann::json j = {{"steps", r.steps_done},
                                          {"train_loss", r.train_loss},
                                          {"val_loss", r.val_loss},
                                          {"val_bits_per_byte", r.val_bits_per_byte},
                                          {"tokens_per_s", r.tokens_per_s},
                                          {"gflops", r.gflops},
                                          {"params", r.params},
                                          {"processes", comm->size()},
                                          {"checkpoint", r.checkpoint}};
                std::printf("%s\n", j.dump().c_str());
            }
        } catch (const std::exception& e) {
            // With several ranks the communicator aborts the job as it unwinds: say why first.
            if (comm->size() > 1) {
                std::fprintf(stderr, "rwkv: error (rank %d): %s\n", comm->rank(), printable(e.what()).c_str());
                std::fflush(stderr);
            }
            throw;
        }
        return 0;
    };
}

}  // namespace rwkv::cli
