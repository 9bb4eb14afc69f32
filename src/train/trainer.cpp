#include "train/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/file_util.h"
#include "model/import/model_files.h"
#include "rwkv/error.h"
#include "rwkv/formats.h"
#include "rwkv/tokenizer.h"
#include "train/init.h"
#include "train/run_dir.h"
#include "train/trainer_state.h"
#include "train/token_data.h"
#include "train/train_model.h"

namespace rwkv::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

std::string duration(double s) {
    const long t = static_cast<long>(s + 0.5);
    char buf[32];
    if (t >= 3600)
        std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else
        std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
    return buf;
}

// WKV multiply–adds per token and layer, forward + backward (with the recomputation from checkpoints), as
// counted in wkv_train: v7 ≈ 9·N² per head forward, about three times that in all; v4 a few per channel.
int64_t wkv_flops_per_token(const ModelShape& s) {
    if (s.version == 7) return 2 * 36 * s.n_embd * s.head_size * s.n_layer;
    return 2 * 30 * s.n_embd * s.n_layer;
}

// Bytes a forward pass keeps per token for the backward: the logits, and per layer about 32 vectors of n_embd
// and 4 of the channel mix's width (RWKV-7 as measured; RWKV-4 keeps less).
double activation_bytes_per_token(const ModelShape& shape) {
    const ModelShape s = shape.resolved();
    return 4.0 * (static_cast<double>(s.n_vocab) + static_cast<double>(s.n_layer) * (32.0 * s.n_embd + 4.0 * s.ffn_dim));
}

// Refuses a batch whose token windows or activations could not fit in this machine's memory, before any is
// allocated: an absurd --batch otherwise ends in a bare allocation failure or the system's OOM killer.
void check_memory(const TrainOptions& o, const ModelShape& shape, int64_t micro) {
    const double memory = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
    const double gb = 1e9;
    const double windows = static_cast<double>(o.batch) * static_cast<double>(o.ctx_len + 1) * sizeof(int32_t);
    if (windows > memory)
        throw Error("--batch " + std::to_string(o.batch) + " sequences of --ctx-len " + std::to_string(o.ctx_len) +
                    " tokens take " + fmt("%.1f", windows / gb) + " GB, more than this machine's " +
                    fmt("%.1f", memory / gb) + " GB");
    const double pass = static_cast<double>(micro) * static_cast<double>(o.ctx_len) * activation_bytes_per_token(shape);
    if (pass > memory)
        throw Error(std::to_string(micro) + " sequences of " + std::to_string(o.ctx_len) + " tokens per forward pass keep about " +
                    fmt("%.1f", pass / gb) + " GB of activations, more than this machine's " + fmt("%.1f", memory / gb) +
                    " GB; lower --micro-batch (gradients accumulate to the same --batch) or --ctx-len");
}

// What must not change between a run and its resumption (the schedule and the data order depend on them).
nlohmann::json run_config(const TrainOptions& o, const ModelShape& s) {
    return {{"version", s.version}, {"n_layer", s.n_layer}, {"n_embd", s.n_embd},   {"n_vocab", s.n_vocab},
            {"ctx_len", o.ctx_len}, {"batch", o.batch},     {"steps", o.steps},     {"seed", o.seed},
            {"lr", o.optim.lr},     {"lr_final", o.optim.lr_final}, {"warmup", o.optim.warmup_steps},
            {"schedule", o.optim.schedule}, {"val_fraction", o.val_fraction}};
}

}  // namespace

TrainReport train(const TrainOptions& o, Comm& comm, const std::function<void(const std::string&)>& log_line) {
    const bool root = comm.rank() == 0;
    auto log = [&](const std::string& s) {
        if (root) log_line(s);
    };
    check_config(o.optim);
    if (o.ctx_len < 1) throw Error("--ctx-len must be at least 1");
    if (o.batch < 1) throw Error("--batch must be at least 1");
    if (o.steps < 1) throw Error("--steps must be at least 1");
    if (o.batch % comm.size() != 0)
        throw Error("--batch " + std::to_string(o.batch) + " must be a multiple of the number of processes (" +
                    std::to_string(comm.size()) + ")");
    const int64_t share = o.batch / comm.size();
    const int64_t micro = o.micro_batch > 0 ? std::min(o.micro_batch, share) : share;
    if (share % micro != 0)
        throw Error("--micro-batch " + std::to_string(micro) + " must divide each process's share of the batch (" +
                    std::to_string(share) + ")");

    auto file = std::make_shared<const TokenFile>(o.data);
    TokenDataset data(file, o.val_fraction, o.ctx_len);

    // the model: a checkpoint to fine-tune, or a new one
    ModelShape shape = o.shape;
    TensorFile init_file;
    if (!o.init.empty()) {
        init_file = load_official_layout(o.init);
        shape = shape_of(init_file);
    } else if (shape.n_vocab == 0) {
        shape.n_vocab = file->info().vocab_size;
    }
    if (static_cast<int64_t>(file->info().vocab_size) > shape.n_vocab)
        throw Error(o.data + ": its tokens come from a vocabulary of " + std::to_string(file->info().vocab_size) +
                    ", larger than the model's " + std::to_string(shape.n_vocab));
    check_memory(o, shape, micro);
    auto model = TrainModel<float>::create(shape, o.threads);
    ParamSet<float>& params = model->params();
    if (!o.init.empty())
        params.load(init_file);
    else
        init_params(params, o.seed);
    init_file = TensorFile{};

    std::vector<ParamRef> refs;
    for (Param<float>& p : params.all())
        refs.push_back({p.name, p.value.data(), p.grad.data(), p.size(), p.decay, p.lr_scale});
    AdamWConfig ocfg = o.optim;
    ocfg.total_steps = o.steps;
    AdamW opt(ocfg, refs);

    std::mt19937_64 rng(o.seed);
    TrainerState st;
    const nlohmann::json config = run_config(o, model->shape());
    if (root) prepare_run_dir(o.out_dir, o.resume, o.overwrite);
    comm.barrier();
    const std::string state_path = (fs::path(o.out_dir) / kStateFile).string();
    if (o.resume) {
        nlohmann::json saved;
        st = load_trainer_state(state_path, saved);
        if (saved != config)
            throw Error(state_path + ": the run's settings differ from the interrupted run's (" + saved.dump() +
                        "); resume with the same settings");
        const std::string model_path = (fs::path(o.out_dir) / st.model_file).string();
        params.load(load_pth(model_path));
        if (weights_hash(params) != st.model_hash)
            throw Error(model_path + ": these weights are not the ones " + state_path + " was saved with");
        opt.load_state(st.optimizer.data(), st.optimizer.size());
        std::istringstream in(st.rng);
        in >> rng;
        log("resumed at step " + std::to_string(st.step) + " from " + model_path);
    }
    // every rank starts from rank 0's weights (identical already when initialised from the same seed)
    for (Param<float>& p : params.all()) comm.broadcast(p.value.data(), p.size() * sizeof(float));

    const int64_t T = o.ctx_len;
    const int64_t wkv_flops = wkv_flops_per_token(model->shape());
    const double flops_per_token = 6.0 * static_cast<double>(model->matmul_weights_per_token()) + wkv_flops;
    TrainReport report;
    report.params = params.count();
    log("model: RWKV-" + std::to_string(model->shape().version) + ", " + std::to_string(model->shape().n_layer) +
        " layers, n_embd " + std::to_string(model->shape().n_embd) + ", vocab " +
        std::to_string(model->shape().n_vocab) + ", " + std::to_string(report.params) + " parameters; data: " +
        std::to_string(data.train_tokens()) + " training tokens, " + std::to_string(data.val_tokens()) +
        " validation; " + std::to_string(comm.size()) + " process(es) × " + std::to_string(o.threads) + " thread(s)");

    // bytes per validation token, for bits per byte
    const auto windows = data.validation_windows(o.eval_windows);
    double val_bytes = 0, val_targets = 0;
    {
        std::unique_ptr<Tokenizer> tok;
        if (!o.tokenizer.empty())
            tok = load_tokenizer(o.tokenizer);
        else if (file->info().tokenizer == "bytes")
            tok = load_tokenizer("bytes");
        for (const auto& w : windows) {
            val_targets += static_cast<double>(w.size() - 1);
            if (tok) val_bytes += static_cast<double>(tok->decode_bytes({w.begin() + 1, w.end()}).size());
        }
    }

    auto evaluate = [&]() {
        double sums[2] = {0, 0};  // loss × targets, targets
        for (size_t i = static_cast<size_t>(comm.rank()); i < windows.size(); i += static_cast<size_t>(comm.size())) {
            const auto& w = windows[i];
            const int64_t n = static_cast<int64_t>(w.size()) - 1;
            sums[0] += model->loss(w.data(), 1, n) * static_cast<double>(n);
            sums[1] += static_cast<double>(n);
        }
        comm.allreduce_sum(sums, 2);
        return sums[1] > 0 ? sums[0] / sums[1] : 0.0;
    };

    auto save = [&]() {
        const std::string name = checkpoint_name(st.step);
        const std::string path = (fs::path(o.out_dir) / name).string();
        if (root) {
            save_pth(path, params.to_tensors(), o.save_dtype);
            if (o.save_dtype == DType::F32) {
                st.model_file = name;
                st.model_hash = weights_hash(params);
                std::ostringstream r;
                r << rng;
                st.rng = r.str();
                st.optimizer.clear();
                opt.save_state(st.optimizer);
                save_trainer_state(state_path, st, config);  // renamed into place after the model: never ahead of it
            }
            // The folder as it is, so checkpoints of earlier (interrupted) processes of this run count too.
            keep_newest_checkpoints(o.out_dir, o.keep_checkpoints, name);
        }
        report.checkpoint = path;
        comm.barrier();
    };

    const int64_t end = o.stop_after > 0 ? std::min(o.stop_after, o.steps) : o.steps;
    const auto t0 = Clock::now();
    auto last = t0;
    int64_t run_tokens = 0, interval_tokens = 0, interval_steps = 0;
    double interval_loss = 0;
    while (st.step < end) {
        const std::vector<int32_t> batch = data.sample(o.batch, rng);  // the same global batch on every rank
        params.zero_grad();
        double loss = 0;
        const int64_t first = comm.rank() * share;
        for (int64_t m = 0; m < share; m += micro)
            loss += model->forward_backward(&batch[static_cast<size_t>((first + m) * (T + 1))], micro, T,
                                            static_cast<float>(static_cast<double>(micro) / o.batch)) *
                    static_cast<double>(micro);
        double loss_sum[1] = {loss};
        comm.allreduce_sum(loss_sum, 1);
        for (Param<float>& p : params.all()) comm.allreduce_sum(p.grad.data(), p.size());
        const double lr = learning_rate(ocfg, st.step);
        const double gnorm = opt.step(refs);
        ++st.step;
        st.tokens_seen += o.batch * T;
        run_tokens += o.batch * T;
        interval_tokens += o.batch * T;
        interval_loss += loss_sum[0] / static_cast<double>(o.batch);
        ++interval_steps;
        if (!std::isfinite(loss_sum[0])) throw Error("training diverged: loss is " + std::to_string(loss_sum[0]) + " at step " + std::to_string(st.step));
        const bool eval_now = (o.eval_every > 0 && st.step % o.eval_every == 0) || st.step == end;
        if (st.step % std::max<int64_t>(o.log_every, 1) == 0 || eval_now) {
            const auto now = Clock::now();
            const double dt = std::chrono::duration<double>(now - last).count();
            const double tps = dt > 0 ? static_cast<double>(interval_tokens) / dt : 0;
            const double elapsed = std::chrono::duration<double>(now - t0).count();
            const double eta = run_tokens > 0 ? elapsed / static_cast<double>(run_tokens) * static_cast<double>((end - st.step) * o.batch * T) : 0;
            report.train_loss = interval_loss / static_cast<double>(interval_steps);
            log("step " + std::to_string(st.step) + "/" + std::to_string(o.steps) + "  loss " +
                fmt("%.4f", report.train_loss) + "  lr " + fmt("%.3g", lr) + "  |g| " + fmt("%.3f", gnorm) + "  " +
                fmt("%.0f", tps) + " tok/s  " + fmt("%.1f", tps * flops_per_token / 1e9) + " GFLOP/s  ETA " +
                duration(eta));
            last = now;
            interval_tokens = 0;
            interval_steps = 0;
            interval_loss = 0;
        }
        if (eval_now) {
            report.val_loss = evaluate();
            report.val_bits_per_byte = val_bytes > 0 ? report.val_loss * val_targets / val_bytes / std::log(2.0) : 0;
            log("step " + std::to_string(st.step) + "  validation loss " + fmt("%.4f", report.val_loss) +
                (val_bytes > 0 ? "  bits/byte " + fmt("%.4f", report.val_bits_per_byte) : std::string()));
            last = Clock::now();  // evaluation time is not training throughput
            save();
        }
    }
    const double total = std::chrono::duration<double>(Clock::now() - t0).count();
    report.steps_done = st.step;
    report.tokens_per_s = total > 0 ? static_cast<double>(run_tokens) / total : 0;
    report.gflops = report.tokens_per_s * flops_per_token / 1e9;
    return report;
}

}  // namespace rwkv::train
