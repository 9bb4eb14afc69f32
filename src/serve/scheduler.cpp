#include "serve/scheduler.h"

#include <algorithm>
#include <optional>

#include "rwkv/error.h"
#include "rwkv/token_text.h"

namespace rwkv::serve {

using Clock = std::chrono::steady_clock;

bool Job::next(JobEvent& event, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return false;
    event = std::move(events_.front());
    events_.pop_front();
    return true;
}

void Job::post(JobEvent event) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        events_.push_back(std::move(event));
    }
    cv_.notify_all();
}

// One sequence: a job's choice, from its prompt to its last token.
struct Scheduler::Slot {
    enum class Phase { Prompt, Follow, Decode, Done };

    Slot(std::shared_ptr<Job> j, int c, State s, const Tokenizer& tokenizer, std::shared_ptr<const TokenTrie> trie)
        : job(std::move(j)), choice(c), state(std::move(s)), sampler(with_seed(job->params().sampling, c)),
          text(tokenizer, job->params().stop) {
        if (job->params().grammar) grammar.emplace(job->params().grammar, std::move(trie), tokenizer.eos_id());
    }
    static SamplerParams with_seed(SamplerParams p, int choice) {
        p.seed += static_cast<uint64_t>(choice);
        return p;
    }
    const JobParams& params() const { return job->params(); }

    std::shared_ptr<Job> job;
    int choice;
    State state;
    Sampler sampler;
    TokenText text;
    Phase phase = Phase::Prompt;
    Slot* leader = nullptr;      // Follow: the choice whose prompt this one takes over
    std::vector<int32_t> read;   // what the state has read: the cache's key
    size_t prompt_pos = 0;       // prompt tokens read
    size_t chunk_end = 0;        // this step's prompt chunk ends here (0: none this step)
    std::vector<float> logits;   // after the last token read, when has_logits
    bool has_logits = false;
    int32_t feed = -1;           // the sampled token the next step reads
    bool stepped = false;        // took part in this step as a decoding sequence
    int64_t generated = 0;
    std::vector<float> work;     // logits with the job's bias added and the grammar's mask
    std::optional<GrammarMatcher> grammar;
    int32_t drawn = -1;          // the token draw() chose, for sample() to take
    std::string draw_error;      // why draw() could not choose one
};

Scheduler::Scheduler(const Model& model, const Tokenizer& tokenizer, SchedulerOptions options)
    : model_(model), tokenizer_(tokenizer), options_(options), cache_(options.cache_bytes) {
    if (options_.parallel < 1) throw Error("--parallel must be at least 1");
    if (options_.prompt_chunk < 1) throw Error("the prompt chunk must be at least 1 token");
    thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() { shutdown(std::chrono::milliseconds(0)); }

std::shared_ptr<Job> Scheduler::submit(JobParams params) {
    if (params.prompt.empty()) throw Error("the prompt is empty");
    if (params.n < 1 || params.n > options_.parallel)
        throw Error("n is " + std::to_string(params.n) + "; it must be 1 to " + std::to_string(options_.parallel) +
                    " (the server's parallel sequences)");
    if (params.max_tokens < 0) throw Error("max_tokens must not be negative");
    Sampler check(params.sampling);  // rwkv::Error naming a bad setting
    (void)check;
    if (params.grammar) std::call_once(trie_once_, [&] { trie_ = std::make_shared<const TokenTrie>(tokenizer_); });
    std::shared_ptr<Job> job;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) throw Error("the server is shutting down");
        // Jobs that a free sequence will take at once do not count as waiting.
        const size_t free = static_cast<size_t>(std::max(0, options_.parallel - busy_.load()));
        if (queue_.size() >= options_.max_queue + free)
            throw Error("the queue is full (" + std::to_string(options_.max_queue) + " requests waiting)");
        job = std::make_shared<Job>(std::move(params), next_id_++);
        queue_.push_back(job);
    }
    {
        std::lock_guard<std::mutex> lock(stats_mu_);
        ++stats_.jobs;
        stats_.prompt_tokens += job->params().prompt.size();
    }
    cv_.notify_all();
    return job;
}

void Scheduler::shutdown(std::chrono::milliseconds grace) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!stopping_) {
            stopping_ = true;
            cancel_after_ = Clock::now() + grace;
        }
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

SchedulerStats Scheduler::stats() const {
    SchedulerStats s;
    {
        std::lock_guard<std::mutex> lock(stats_mu_);
        s = stats_;
    }
    {
        std::lock_guard<std::mutex> lock(mu_);
        s.queued = queue_.size();
    }
    s.cache = cache_.stats();
    return s;
}

void Scheduler::run() {
    const auto drop_done = [&] {
        std::erase_if(slots_, [](const std::unique_ptr<Slot>& s) { return s->phase == Slot::Phase::Done; });
    };
    for (;;) {
        drop_done();
        admit();
        bool stopping;
        Clock::time_point cancel_after;
        {
            std::lock_guard<std::mutex> lock(mu_);
            stopping = stopping_;
            cancel_after = cancel_after_;
        }
        const bool cancel_all = stopping && Clock::now() >= cancel_after;
        for (auto& s : slots_)
            if (s->phase != Slot::Phase::Done && (s->job->cancelled() || cancel_all)) finish(*s, "cancelled");
        // A prompt the cache covered whole (and a choice that took over its leader's) has logits already.
        sample_ready();
        drop_done();
        busy_.store(static_cast<int>(slots_.size()));
        {
            std::lock_guard<std::mutex> lock(stats_mu_);
            stats_.active = slots_.size();
        }
        if (!build_step()) {
            std::unique_lock<std::mutex> lock(mu_);
            if (stopping_ && queue_.empty() && slots_.empty()) return;
            cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return !queue_.empty() || stopping_; });
            continue;
        }
        model_.step(steps_, session_);
        after_step();
    }
}

void Scheduler::admit() {
    for (;;) {
        std::shared_ptr<Job> job;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (queue_.empty()) return;
            if (stopping_) {  // queued jobs never start once the server is stopping
                for (auto& j : queue_)
                    for (int c = 0; c < j->params().n; ++c) j->post({c, "", true, "cancelled", 0});
                queue_.clear();
                return;
            }
            if (static_cast<int>(slots_.size()) + queue_.front()->params().n > options_.parallel) return;
            job = std::move(queue_.front());
            queue_.pop_front();
        }
        const JobParams& p = job->params();
        Slot* leader = nullptr;
        for (int c = 0; c < p.n; ++c) {
            State state = p.initial ? *p.initial : model_.new_state();
            auto slot = std::make_unique<Slot>(job, c, std::move(state), tokenizer_, trie_);
            if (c == 0) {
                const size_t hit = cache_.lookup(p.origin, p.prompt, slot->state, slot->logits);
                slot->prompt_pos = hit;
                slot->read.assign(p.prompt.begin(), p.prompt.begin() + static_cast<std::ptrdiff_t>(hit));
                if (hit == p.prompt.size()) {
                    slot->has_logits = true;
                    slot->phase = Slot::Phase::Decode;
                }
                leader = slot.get();
            } else {
                slot->phase = Slot::Phase::Follow;
                slot->leader = leader;
                if (leader->phase == Slot::Phase::Decode) {
                    slot->state = leader->state;
                    slot->logits = leader->logits;
                    slot->read = leader->read;
                    slot->has_logits = true;
                    slot->phase = Slot::Phase::Decode;
                }
            }
            slots_.push_back(std::move(slot));
        }
    }
}

bool Scheduler::build_step() {
    // Every decoding sequence first, then one prompt chunk, taking turns among the prompts waiting.
    steps_.clear();
    const size_t V = static_cast<size_t>(model_.info().n_vocab);
    for (auto& s : slots_) {
        s->stepped = false;
        s->chunk_end = 0;
        if (s->phase != Slot::Phase::Decode || s->feed < 0) continue;
        s->logits.resize(V);
        steps_.push_back({&s->state, {&s->feed, 1}, s->logits.data(), false});
        s->stepped = true;
    }
    for (size_t i = 0; i < slots_.size(); ++i) {
        Slot& s = *slots_[(prefill_turn_ + i) % slots_.size()];
        if (s.phase != Slot::Phase::Prompt) continue;
        const std::vector<int32_t>& prompt = s.params().prompt;
        size_t end = std::min(prompt.size(), s.prompt_pos + static_cast<size_t>(options_.prompt_chunk));
        for (size_t c : s.params().cache_at)  // stop at a turn boundary, to keep the state there
            if (c > s.prompt_pos && c < end) end = c;
        s.chunk_end = end;
        s.logits.resize(V);
        steps_.push_back({&s.state, std::span<const int32_t>(prompt).subspan(s.prompt_pos, end - s.prompt_pos),
                          s.logits.data(), false});
        prefill_turn_ = (prefill_turn_ + i + 1) % slots_.size();
        break;
    }
    return !steps_.empty();
}

void Scheduler::after_step() {
    uint64_t computed = 0;
    for (auto& sp : slots_) {
        Slot& s = *sp;
        if (s.stepped) {
            s.read.push_back(s.feed);
            s.feed = -1;
            s.has_logits = true;
        } else if (s.chunk_end > 0) {
            const JobParams& p = s.params();
            s.read.insert(s.read.end(), p.prompt.begin() + static_cast<std::ptrdiff_t>(s.prompt_pos),
                          p.prompt.begin() + static_cast<std::ptrdiff_t>(s.chunk_end));
            computed += s.chunk_end - s.prompt_pos;
            s.job->computed_ += static_cast<int64_t>(s.chunk_end - s.prompt_pos);
            s.prompt_pos = s.chunk_end;
            // Kept where a later request can pick up: a turn boundary, or (with none, a completion) the prompt's
            // end. A state per chunk would fill the cache with states no request resumes from.
            const bool boundary = std::find(p.cache_at.begin(), p.cache_at.end(), s.prompt_pos) != p.cache_at.end();
            if (boundary || (p.cache_at.empty() && s.prompt_pos == p.prompt.size()))
                cache_.put(p.origin, s.read, s.state, s.logits);
            if (s.prompt_pos == p.prompt.size()) {
                s.has_logits = true;
                s.phase = Slot::Phase::Decode;
                for (auto& f : slots_)
                    if (f->phase == Slot::Phase::Follow && f->leader == &s) {
                        f->state = s.state;
                        f->logits = s.logits;
                        f->read = s.read;
                        f->has_logits = true;
                        f->phase = Slot::Phase::Decode;
                    }
            }
        }
    }
    sample_ready();
    std::lock_guard<std::mutex> lock(stats_mu_);
    ++stats_.steps;
    stats_.computed_prompt_tokens += computed;
    const auto now = Clock::now();
    rate_.emplace_back(now, stats_.generated_tokens);
    while (rate_.size() > 2 && now - rate_.front().first > std::chrono::seconds(10)) rate_.pop_front();
    const double dt = std::chrono::duration<double>(rate_.back().first - rate_.front().first).count();
    stats_.tokens_per_s = dt > 0 ? static_cast<double>(rate_.back().second - rate_.front().second) / dt : 0;
}

void Scheduler::sample_ready() {
    // Drawing is each sequence's own work (its logits, sampler and grammar), so the draws run on the model's
    // threads side by side; what they lead to (events, the cache, finishing) follows here, in order.
    std::vector<Slot*> ready;
    for (auto& s : slots_)
        if (s->phase == Slot::Phase::Decode && s->has_logits && s->feed < 0) ready.push_back(s.get());
    model_.parallel_for(ready.size(), [&](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) draw(*ready[i]);
    });
    for (Slot* s : ready) sample(*s);
}

void Scheduler::draw(Slot& s) {
    s.drawn = -1;
    s.draw_error.clear();
    const JobParams& p = s.params();
    if (s.generated >= p.max_tokens) return;
    try {
        const float* logits = s.logits.data();
        if (!p.logit_bias.empty() || s.grammar) {
            s.work = s.logits;
            for (const auto& [id, bias] : p.logit_bias) s.work[static_cast<size_t>(id)] += bias;
            if (s.grammar) s.grammar->mask(s.work.data(), s.work.size());
            logits = s.work.data();
        }
        s.drawn = s.sampler.sample(logits, s.logits.size());
    } catch (const std::exception& e) {
        s.draw_error = e.what();
    }
}

void Scheduler::sample(Slot& s) {
    const JobParams& p = s.params();
    if (s.generated >= p.max_tokens) return finish(s, "length");
    if (!s.draw_error.empty()) return finish(s, "error: " + s.draw_error);
    const int32_t token = s.drawn;
    if ((p.stop_at_eos || s.grammar) && token == tokenizer_.eos_id()) return finish(s, "stop");
    if (s.grammar) s.grammar->accept(token);
    s.sampler.accept(token);
    ++s.generated;
    {
        std::lock_guard<std::mutex> lock(stats_mu_);
        ++stats_.generated_tokens;
    }
    std::string text = s.text.push(token);
    if (!text.empty()) s.job->post({s.choice, std::move(text), false, "", s.generated});
    if (s.text.stopped() || (s.grammar && s.grammar->must_end())) return finish(s, "stop");
    if (s.generated >= p.max_tokens) return finish(s, "length");
    s.feed = token;
    s.has_logits = false;
}

void Scheduler::finish(Slot& s, const std::string& reason) {
    if (reason != "cancelled") {
        std::string rest = s.text.flush();
        if (!rest.empty()) s.job->post({s.choice, std::move(rest), false, "", s.generated});
        // The state has read every token but the last sampled one, and the logits are those after it: a later
        // request that repeats these tokens goes on from here.
        if (s.has_logits) cache_.put(s.params().origin, s.read, s.state, s.logits);
    }
    s.job->post({s.choice, "", true, reason, s.generated});
    s.phase = Slot::Phase::Done;
    // A choice still waiting for this one's prompt cannot go on without it.
    for (auto& f : slots_)
        if (f->phase == Slot::Phase::Follow && f->leader == &s) finish(*f, reason);
}

}  // namespace rwkv::serve
