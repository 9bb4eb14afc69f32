#pragma once
// The server's heart: one thread that advances every active sequence by a token per step, all of them in one
// Model::step (each projection one matrix–matrix product over the batch, so the weights are read once per step
// however many conversations run), with prompts read a chunk per step beside them so a long prompt never
// freezes the streams. Sequences join and leave between steps. Prompts resume from the state cache when an
// earlier request read the same tokens.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rwkv/grammar.h"
#include "rwkv/model.h"
#include "rwkv/sampler.h"
#include "rwkv/tokenizer.h"
#include "serve/state_cache.h"

namespace rwkv::serve {

// What to generate: from `initial` (or the fresh state) read `prompt`, then sample up to max_tokens.
struct JobParams {
    std::vector<int32_t> prompt;
    std::shared_ptr<const State> initial;  // an uploaded state; null: the fresh state
    uint64_t origin = 0;                   // the cache's name for `initial` (0: the fresh state)
    std::vector<size_t> cache_at;          // prompt lengths after which to keep the state (turn boundaries); none:
                                           // the prompt's end
    int64_t max_tokens = 128;
    SamplerParams sampling;
    std::vector<std::pair<int32_t, float>> logit_bias;  // added to the logits before sampling
    std::vector<std::string> stop;
    bool stop_at_eos = true;
    std::shared_ptr<const Grammar> grammar;  // when set, every choice is held to it and ends when it is complete
    int n = 1;  // choices: the prompt is read once, then each is sampled on its own (seed + choice)
};

// Something a job's reader is told, in order: text of one choice as it becomes safe to show, then, once per
// choice, that it finished and why ("stop", "length", "cancelled", or "error: why" when no token could be
// drawn). `tokens` counts the choice's tokens so far.
struct JobEvent {
    int choice = 0;
    std::string text;
    bool finished = false;
    std::string finish_reason;
    int64_t tokens = 0;
};

class Job {
public:
    Job(JobParams params, int64_t id) : params_(std::move(params)), id_(id) {}
    const JobParams& params() const { return params_; }
    int64_t id() const { return id_; }

    // The next event; false when none came within `timeout`.
    bool next(JobEvent& event, std::chrono::milliseconds timeout);
    // Asks the scheduler to stop this job's choices at its next step (a client that went away).
    void cancel() { cancelled_.store(true); }
    bool cancelled() const { return cancelled_.load(); }
    // Tokens of the prompt read by the model (the rest came from the state cache).
    int64_t prompt_tokens_computed() const { return computed_.load(); }

private:
    friend class Scheduler;
    void post(JobEvent event);

    JobParams params_;
    int64_t id_;
    std::atomic<bool> cancelled_{false};
    std::atomic<int64_t> computed_{0};
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<JobEvent> events_;
};

struct SchedulerOptions {
    int parallel = 16;           // sequences that advance together
    size_t max_queue = 256;      // jobs waiting for a free sequence
    size_t cache_bytes = size_t{1} << 30;
    int64_t prompt_chunk = 64;   // prompt tokens read per step
};

// Counters for /metrics.
struct SchedulerStats {
    uint64_t jobs = 0, prompt_tokens = 0, computed_prompt_tokens = 0, generated_tokens = 0, steps = 0;
    size_t queued = 0, active = 0;
    double tokens_per_s = 0;  // generated, over the last few seconds
    StateCache::Stats cache;
};

class Scheduler {
public:
    // Starts the stepping thread. The model and tokenizer must outlive the scheduler.
    Scheduler(const Model& model, const Tokenizer& tokenizer, SchedulerOptions options);
    ~Scheduler();
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // Queues a job; rwkv::Error when the queue is full, when the scheduler is stopping, or for parameters it
    // cannot run (a choice count over the parallel sequences, a bad sampling setting).
    std::shared_ptr<Job> submit(JobParams params);
    // Stops taking jobs; lets running ones finish for up to `grace`, then cancels the rest; joins the thread.
    void shutdown(std::chrono::milliseconds grace);
    SchedulerStats stats() const;
    const SchedulerOptions& options() const { return options_; }

private:
    struct Slot;
    void run();
    void admit();
    bool build_step();
    void after_step();
    void sample_ready();  // every decoding sequence with logits and no token to read yet
    void draw(Slot& slot);    // chooses the slot's next token (any thread)
    void sample(Slot& slot);  // takes it (the scheduler thread)
    void finish(Slot& slot, const std::string& reason);

    const Model& model_;
    const Tokenizer& tokenizer_;
    SchedulerOptions options_;
    std::once_flag trie_once_;
    std::shared_ptr<const TokenTrie> trie_;  // the vocabulary's bytes, made for the first job with a grammar
    Session session_;
    StateCache cache_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<Job>> queue_;
    bool stopping_ = false;
    std::chrono::steady_clock::time_point cancel_after_ = std::chrono::steady_clock::time_point::max();
    int64_t next_id_ = 1;

    std::vector<std::unique_ptr<Slot>> slots_;  // the scheduler thread's alone
    std::atomic<int> busy_{0};                  // slots_.size(), for submit()
    std::vector<SequenceStep> steps_;
    size_t prefill_turn_ = 0;

    mutable std::mutex stats_mu_;
    SchedulerStats stats_;
    std::deque<std::pair<std::chrono::steady_clock::time_point, uint64_t>> rate_;  // (time, generated) samples

    std::thread thread_;
};

}  // namespace rwkv::serve
