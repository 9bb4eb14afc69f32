#include "rwkv/model.h"

#include <algorithm>

#include "core/hash.h"
#include "core/thread_pool.h"
#include "model/binder.h"
#include "model/block_model.h"
#include "model/detect.h"
#include "model/generations.h"
#include "model/import/model_files.h"
#include "rwkv/error.h"
#include "rwkv/formats.h"

namespace rwkv {

// Sizes plus up to 64 evenly spaced values of every tensor: cheap at load, yet two models of the same shape (or a
// fine-tune of one) get different fingerprints. The values are hashed as fp32, by element, so the same weights
// give the same fingerprint in any container and stored type that holds them exactly (a bf16 .pth and its bf16
// GGUF): what a state depends on, not how the file keeps it.
static uint64_t fingerprint_of(const ModelInfo& info, const TensorFile& file) {
    Fnv1a h;
    h.add_value(info.version);
    h.add_value(info.n_layer);
    h.add_value(info.n_embd);
    h.add_value(info.n_vocab);
    h.add_value(info.n_head);
    for (const auto& [name, t] : file.tensors) {
        h.add(name.data(), name.size());
        const int64_t n = t.numel();
        const int64_t step = n > 64 ? n / 64 : 1;
        for (int64_t i = 0; i < n; i += step) h.add_value(t.element(i));
    }
    return h.value();
}

std::unique_ptr<Model> Model::load(const std::string& path, const LoadOptions& options) {
    if (options.chunk_len <= 0) throw Error("chunk_len must be positive");
    if (options.threads < 0) throw Error("thread count must be at least 1 (or 0: chosen for the model)");
    // Foreign layouts become the official one before anything reads a name.
    TensorFile file = load_official_layout(path);
    ModelInfo info = detect_model(file);
    const uint64_t fp = fingerprint_of(info, file);
    Binder binder(file);
    std::unique_ptr<Model> model;
    switch (info.version) {
        case 4: model = make_v4(std::move(info), options, binder); break;
        case 5: model = make_v5(std::move(info), options, binder); break;
        case 6: model = make_v6(std::move(info), options, binder); break;
        case 7: model = make_v7(std::move(info), options, binder); break;
        default: throw Error(path + ": unsupported RWKV generation");
    }
    binder.check_all_bound("RWKV-" + model->info().version_string());
    model->fingerprint_ = fp;
    model->weight_bytes_per_token_ = binder.bytes_per_token();
    if (options.threads == 0) model->set_threads(default_threads(model->weight_bytes_per_token_));
    return model;
}

int Model::default_threads(int64_t weight_bytes_per_token) {
    // Each thread past the first costs every product a hand-over and a wait, about as long as streaming
    // this many bytes; a model whose products are all smaller gains nothing from more threads and loses
    // the most when another process takes their cores.
    constexpr int64_t kBytesPerExtraThread = int64_t{16} << 20;
    const int64_t useful = 1 + weight_bytes_per_token / kBytesPerExtraThread;
    return static_cast<int>(std::min<int64_t>(useful, ThreadPool::available_cores()));
}

Model::Model(ModelInfo info, const LoadOptions& options)
    : info_(std::move(info)), options_(options), pool_(std::make_unique<ThreadPool>(std::max(options.threads, 1))) {}

Model::~Model() = default;

void Model::set_threads(int n) {
    pool_ = std::make_unique<ThreadPool>(n);
    options_.threads = n;
}

int Model::threads() const { return pool_->size(); }

void Model::parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn) const { pool_->parallel_for(n, fn); }

StateShape Model::state_shape() const {
    StateShape s;
    s.version = info_.version;
    s.n_layer = info_.n_layer;
    s.n_embd = info_.n_embd;
    s.n_head = info_.n_head;
    s.head_size = info_.head_size;
    return s;
}

State Model::new_state() const { return State(state_shape(), fingerprint_); }

void Model::check_tokens(std::span<const int32_t> tokens) const {
    for (size_t i = 0; i < tokens.size(); ++i)
        if (tokens[i] < 0 || tokens[i] >= info_.n_vocab)
            throw Error("token " + std::to_string(tokens[i]) + " at position " + std::to_string(i) +
                        " is outside the model's vocabulary [0, " + std::to_string(info_.n_vocab) + ")");
}

void Model::check_state(const State& state) const {
    if (!(state.shape() == state_shape()) || state.model_fingerprint() != fingerprint_)
        throw Error("state belongs to a different model");
}

void Model::eval(State& state, int32_t token, float* logits) const {
    const SequenceStep one{&state, {&token, 1}, logits, false};
    step({&one, 1}, session_);
}

void Model::eval_sequence(State& state, std::span<const int32_t> tokens, float* logits, bool all_logits) const {
    const SequenceStep one{&state, tokens, logits, all_logits};
    step({&one, 1}, session_);
}

void Model::step(std::span<const SequenceStep> seqs, Session& session) const {
    int64_t longest = 0;
    for (size_t i = 0; i < seqs.size(); ++i) {
        if (!seqs[i].state) throw Error("step: sequence " + std::to_string(i) + " has no state");
        check_state(*seqs[i].state);
        check_tokens(seqs[i].tokens);
        for (size_t j = 0; j < i; ++j)
            if (seqs[j].state == seqs[i].state)
                throw Error("step: sequences " + std::to_string(j) + " and " + std::to_string(i) + " share a state");
        longest = std::max(longest, static_cast<int64_t>(seqs[i].tokens.size()));
    }
    const int64_t chunk = options_.chunk_len;
    if (longest <= chunk) return forward(seqs, session.pass());
    // A pass per chunk: sequence i's tokens [begin, begin + chunk) in pass begin / chunk, its logits in the pass
    // that holds its last token (or, for all of them, in every pass).
    const int64_t V = info_.n_vocab;
    std::vector<SequenceStep> part;
    for (int64_t begin = 0; begin < longest; begin += chunk) {
        part.clear();
        for (const SequenceStep& s : seqs) {
            const int64_t T = static_cast<int64_t>(s.tokens.size());
            if (T <= begin) continue;
            const int64_t n = std::min(chunk, T - begin);
            float* logits = nullptr;
            if (s.logits && s.all_logits) logits = s.logits + begin * V;
            else if (s.logits && begin + n == T) logits = s.logits;
            part.push_back({s.state, s.tokens.subspan(static_cast<size_t>(begin), static_cast<size_t>(n)), logits,
                            s.all_logits});
        }
        forward(part, session.pass());
    }
}

Session::Session() : pass_(std::make_unique<ForwardPass>()) {}
Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

}  // namespace rwkv
