// rwkv bench: how fast a model generates and reads prompts here and now, set against the limit the
// memory bandwidth puts on generation, as one JSON object on stdout (schema in bench/README.md).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "commands.h"
#include "core/bandwidth.h"
#include "core/thread_pool.h"
#include "kernels/cpu_features.h"
#include "rwkv/error.h"
#include "sampling/truncation.h"

namespace rwkv::cli {

namespace {

struct BenchArgs {
    ModelOptions model;
    int64_t gen_tokens = 64, prompt_tokens = 512;
    uint64_t seed = 1;
    int64_t bandwidth_mib = 0;  // 0: bandwidth_probe_bytes()
    std::vector<int> batch;     // batched decode: sequences per step (--batch)
};

constexpr const char* kBytesPerTokenBasis =
    "Model::weight_bytes_per_token(): every weight matrix and vector once in the type it is held in "
    "memory, one embedding row";

// Prompt processing computes the head for the last token only (logits for it alone), so it counts once.
constexpr const char* kPromptFlopsFormula =
    "gflops = (2*(n_params - 2*n_vocab*n_embd)*tokens + 2*n_vocab*n_embd) / seconds / 1e9: "
    "every matrix weight but the embedding and head is one multiply-add per token; the head once";

// Batched decode computes the head for every token.
constexpr const char* kDecodeFlopsFormula =
    "gflops = 2*(n_params - n_vocab*n_embd)*tokens / seconds / 1e9: every matrix weight but the embedding is one "
    "multiply-add per token, the head included";

double prompt_flops(const ModelInfo& i, int64_t tokens) {
    const double emb = static_cast<double>(i.n_vocab * i.n_embd);
    return 2.0 * (static_cast<double>(i.n_params) - 2.0 * emb) * static_cast<double>(tokens) + 2.0 * emb;
}

// Repeats `once` (which returns its seconds) until 2 s have gone or 5 runs, at least once; the
// fastest run counts, as slower ones were held up by something other than the model (page faults,
// another process). Big models get one run, so a bench stays minutes long at most.
struct Timing {
    double best_s = 0;
    int runs = 0;
};

// One generation run and the bandwidth the probe read right after it, bytes/s.
struct PairedRun {
    double tokens_per_s = 0;
    double bandwidth = 0;
};
template <class F>
Timing fastest_run(F&& once) {
    Timing t;
    double total = 0;
    do {
        const double s = once();
        t.best_s = t.runs == 0 ? s : std::min(t.best_s, s);
        total += s;
        ++t.runs;
    } while (total < 2.0 && t.runs < 5);
    return t;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<int32_t> random_tokens(std::mt19937_64& rng, int64_t n, int64_t n_vocab) {
    std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(n_vocab - 1));
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (auto& id : ids) id = pick(rng);
    return ids;
}

int64_t peak_rss_bytes() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<int64_t>(u.ru_maxrss) * 1024;  // Linux reports KiB
}

nlohmann::ordered_json run_bench(const BenchArgs& a) {
    auto model = a.model.load();
    const ModelInfo& info = model->info();
    const int threads = model->threads();
    std::mt19937_64 rng(a.seed);
    std::vector<float> logits(static_cast<size_t>(info.n_vocab));

    // A short prompt first: warms the threads, caches and activation buffers, and is the context
    // generation continues from.
    State after_prompt = model->new_state();
    model->eval_sequence(after_prompt, random_tokens(rng, 16, info.n_vocab), nullptr, false);

    const std::vector<int32_t> prompt = random_tokens(rng, a.prompt_tokens, info.n_vocab);
    const Timing pt = fastest_run([&] {
        State s = model->new_state();
        const auto t0 = std::chrono::steady_clock::now();
        model->eval_sequence(s, prompt, logits.data(), false);
        return seconds_since(t0);
    });

    // Batched decode: B sequences, each a token per step, every projection one product over all of them (the
    // server's step). Greedy, so each step's tokens come from the step before.
    nlohmann::ordered_json batched = nlohmann::ordered_json::array();
    for (const int B : a.batch) {
        const int64_t steps = std::max<int64_t>(4, a.gen_tokens / B);
        std::vector<float> batch_logits(static_cast<size_t>(B * info.n_vocab));
        std::vector<int32_t> tokens = random_tokens(rng, B, info.n_vocab);
        Session session;
        const Timing bt = fastest_run([&] {
            std::vector<State> states(static_cast<size_t>(B), after_prompt);
            std::vector<SequenceStep> seqs(static_cast<size_t>(B));
            const auto t0 = std::chrono::steady_clock::now();
            for (int64_t i = 0; i < steps; ++i) {
                for (int b = 0; b < B; ++b)
                    seqs[static_cast<size_t>(b)] = {&states[static_cast<size_t>(b)], std::span(&tokens[static_cast<size_t>(b)], 1),
                                                    batch_logits.data() + static_cast<size_t>(b) * static_cast<size_t>(info.n_vocab)};
                model->step(seqs, session);
                for (int b = 0; b < B; ++b) {
                    const float* l = batch_logits.data() + static_cast<size_t>(b) * static_cast<size_t>(info.n_vocab);
                    tokens[static_cast<size_t>(b)] = static_cast<int32_t>(std::max_element(l, l + info.n_vocab) - l);
                }
            }
            return seconds_since(t0);
        });
        const double n = static_cast<double>(steps * B);
        const double flops = 2.0 * static_cast<double>(info.n_params - info.n_vocab * info.n_embd) * n;
        batched.push_back({{"sequences", B},
                           {"steps", steps},
                           {"seconds", bt.best_s},
                           {"runs", bt.runs},
                           {"tokens_per_s", n / bt.best_s},
                           {"fraction_of_prompt_rate", n / bt.best_s / (static_cast<double>(a.prompt_tokens) / pt.best_s)},
                           {"gflops", flops / bt.best_s / 1e9}});
    }

    const int32_t first = random_tokens(rng, 1, info.n_vocab)[0];
    const auto generate = [&] {
        State s = after_prompt;
        int32_t token = first;
        const auto t0 = std::chrono::steady_clock::now();
        for (int64_t i = 0; i < a.gen_tokens; ++i) {
            model->eval(s, token, logits.data());
            token = sampling::argmax(logits);
        }
        return seconds_since(t0);
    };
    const double first_run = generate();
    // Now, before the probe's buffer exists, which would otherwise be the peak.
    const int64_t rss = peak_rss_bytes();

    // Each timed generation run is followed at once by a pass of the probe, so the run can be set against
    // the bandwidth of its own moment (see BandwidthProbe): a lone probe before or after could catch the
    // machine in another state and put the fraction far off either way.
    ThreadPool pool(threads);
    const size_t probe_bytes =
        a.bandwidth_mib > 0 ? static_cast<size_t>(a.bandwidth_mib) << 20 : bandwidth_probe_bytes();
    const int64_t bytes_per_token = model->weight_bytes_per_token();
    std::vector<PairedRun> paired;
    double bandwidth = 0;
    Timing gt;
    {
        BandwidthProbe probe(pool, probe_bytes, ProbePages::huge);
        paired.push_back({a.gen_tokens / first_run, probe.measure(2)});
        gt = fastest_run([&] {
            const double s = generate();
            paired.push_back({a.gen_tokens / s, probe.measure(2)});
            return s;
        });
        gt.best_s = std::min(gt.best_s, first_run);
        ++gt.runs;
        bandwidth = probe.measure(3);
        for (const PairedRun& r : paired) bandwidth = std::max(bandwidth, r.bandwidth);
    }
    // What memory behind 4 KiB pages gives, as weights mmap'd from the page cache get: the gap says
    // how much huge pages for the weights would be worth.
    const double small_pages = measure_read_bandwidth(pool, probe_bytes, 5, ProbePages::small);

    const double gen_tps = static_cast<double>(a.gen_tokens) / gt.best_s;
    const double limit_tps = bandwidth / static_cast<double>(bytes_per_token);
    std::vector<double> fractions;
    nlohmann::ordered_json runs = nlohmann::ordered_json::array();
    for (const PairedRun& r : paired) {
        const double f = r.tokens_per_s * static_cast<double>(bytes_per_token) / r.bandwidth;
        fractions.push_back(f);
        runs.push_back({{"tokens_per_s", r.tokens_per_s}, {"bandwidth_gbs", r.bandwidth / 1e9}, {"fraction", f}});
    }
    std::sort(fractions.begin(), fractions.end());
    const size_t mid = fractions.size() / 2;
    const double median_fraction =
        fractions.size() % 2 ? fractions[mid] : (fractions[mid - 1] + fractions[mid]) / 2.0;

    nlohmann::ordered_json j;
    j["model"] = {{"path", info.path},         {"format", info.format},   {"generation", info.version_string()},
                  {"n_layer", info.n_layer},   {"n_embd", info.n_embd},   {"n_vocab", info.n_vocab},
                  {"n_params", info.n_params}, {"dtype", info.dtype}};
    j["threads"] = threads;
    j["kernels"] = {{"isa", isa_name(default_isa())}, {"stream_prefetch", stream_prefetch_name(default_stream_prefetch())}};
    j["largest_cache_bytes"] = static_cast<int64_t>(largest_cache_bytes());
    j["model_file_bytes"] = static_cast<int64_t>(std::filesystem::file_size(a.model.model));
    j["weights_bytes_per_token"] = bytes_per_token;
    j["weights_bytes_per_token_basis"] = kBytesPerTokenBasis;
    j["memory_bandwidth_gbs"] = bandwidth / 1e9;
    j["memory_bandwidth_small_pages_gbs"] = small_pages / 1e9;
    j["memory_bandwidth_probe_bytes"] = probe_bytes;
    j["generation"] = {{"tokens", a.gen_tokens},
                       {"seconds", gt.best_s},
                       {"runs", gt.runs},
                       {"tokens_per_s", gen_tps},
                       {"bandwidth_limit_tokens_per_s", limit_tps},
                       {"fraction_of_bandwidth_limit", gen_tps / limit_tps},
                       {"paired_fraction_median", median_fraction},
                       {"paired_runs", runs}};
    j["prompt"] = {{"tokens", a.prompt_tokens},
                   {"seconds", pt.best_s},
                   {"runs", pt.runs},
                   {"tokens_per_s", static_cast<double>(a.prompt_tokens) / pt.best_s},
                   {"gflops", prompt_flops(info, a.prompt_tokens) / pt.best_s / 1e9},
                   {"gflops_formula", kPromptFlopsFormula}};
    if (!batched.empty()) {
        for (auto& b : batched) b["times_one_sequence"] = b["tokens_per_s"].get<double>() / gen_tps;
        j["batched_decode"] = {{"runs", batched}, {"gflops_formula", kDecodeFlopsFormula}};
    }
    j["peak_rss_bytes"] = rss;
    j["seed"] = a.seed;
    return j;
}

}  // namespace

Runner add_bench(CLI::App& cmd) {
    auto a = std::make_shared<BenchArgs>();
    a->model.add_to(cmd, false);
    cmd.add_option("--gen-tokens", a->gen_tokens, "tokens generated (greedy) per timed run")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd.add_option("--prompt-tokens", a->prompt_tokens, "tokens in the timed prompt (sequence mode)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd.add_option("--seed", a->seed, "seed for the random token ids")->capture_default_str();
    cmd.add_option("--batch", a->batch, "batched decode with these many sequences per step (e.g. 1,4,16,64)")
        ->delimiter(',')
        ->check(CLI::Range(1, 1024));
    cmd.add_option("--bandwidth-mib", a->bandwidth_mib, "bandwidth probe buffer in MiB (default: 4x the largest cache, >= 512)")
        ->check(CLI::NonNegativeNumber);
    return [a] {
        std::printf("%s\n", run_bench(*a).dump(2).c_str());
        return 0;
    };
}

}  // namespace rwkv::cli
