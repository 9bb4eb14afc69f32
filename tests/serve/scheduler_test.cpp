// The scheduler: jobs batched into shared steps, with prompts read a few tokens per step beside the generating
// sequences, give each job the text generate() gives it alone; a prompt the cache holds is not read again;
// choices, cancellation, a full queue and shutdown behave as documented.
#include "serve/scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "rwkv/error.h"
#include "rwkv/generate.h"
#include "rwkv/model.h"
#include "rwkv/tokenizer.h"

namespace rwkv::serve {
namespace {

const char* kModel = RWKV_SOURCE_DIR "/assets/rwkv7-shakespeare-4x256.gguf";

struct Fixture {
    std::unique_ptr<Model> model = Model::load(kModel);
    std::unique_ptr<Tokenizer> tokenizer = load_tokenizer("bytes");
};

Fixture& fixture() {
    static Fixture f;
    return f;
}

JobParams params(const std::string& prompt, int64_t max_tokens, float temperature, uint64_t seed) {
    JobParams p;
    p.prompt = fixture().tokenizer->encode(prompt);
    p.max_tokens = max_tokens;
    p.sampling.temperature = temperature;
    p.sampling.top_p = 0.9f;
    p.sampling.seed = seed;
    p.stop = {"\n\n"};
    return p;
}

// What generate() gives the same job alone, from the fresh state.
std::string alone(const JobParams& p, int choice = 0) {
    Fixture& f = fixture();
    State state = f.model->new_state();
    SamplerParams sp = p.sampling;
    sp.seed += static_cast<uint64_t>(choice);
    Sampler sampler(sp);
    GenerateOptions o;
    o.max_tokens = p.max_tokens;
    o.stop = p.stop;
    return generate(*f.model, state, *f.tokenizer, sampler, p.prompt, o, nullptr).text;
}

struct Result {
    std::map<int, std::string> text;
    std::map<int, std::string> finish;
};

Result collect(Job& job) {
    Result r;
    JobEvent e;
    int finished = 0;
    while (finished < job.params().n) {
        EXPECT_TRUE(job.next(e, std::chrono::seconds(30))) << "no event for 30 s";
        r.text[e.choice] += e.text;
        if (e.finished) {
            r.finish[e.choice] = e.finish_reason;
            ++finished;
        }
    }
    return r;
}

TEST(Scheduler, BatchedJobsGiveEachWhatItGetsAlone) {
    Fixture& f = fixture();
    SchedulerOptions o;
    o.parallel = 3;       // six jobs: three wait, and join as others leave
    o.prompt_chunk = 3;   // prompts read a few tokens per step, between generation steps
    Scheduler s(*f.model, *f.tokenizer, o);
    const std::vector<JobParams> jobs = {
        params("ROMEO:", 60, 0, 1),           params("JULIET:\nO Romeo, Romeo!", 45, 0.8f, 7),
        params("First Citizen:\nWe", 30, 0, 3), params("KING", 70, 1.0f, 11),
        params("To be, or not", 25, 0.5f, 5),   params("MENENIUS:\nWhat work's, my countrymen", 50, 0, 2)};
    std::vector<std::shared_ptr<Job>> running;
    for (const JobParams& p : jobs) running.push_back(s.submit(p));
    for (size_t i = 0; i < jobs.size(); ++i) {
        const Result r = collect(*running[i]);
        EXPECT_EQ(r.text.at(0), alone(jobs[i])) << "job " << i;
        EXPECT_TRUE(r.finish.at(0) == "length" || r.finish.at(0) == "stop") << r.finish.at(0);
    }
    const SchedulerStats st = s.stats();
    EXPECT_EQ(st.jobs, jobs.size());
    EXPECT_LT(st.steps, st.generated_tokens) << "sequences shared steps";
}

TEST(Scheduler, ACachedPromptIsNotReadAgain) {
    Fixture& f = fixture();
    Scheduler s(*f.model, *f.tokenizer, SchedulerOptions{});
    const JobParams p = params("SICINIUS:\nWhere is this viper", 40, 0, 1);
    auto first = s.submit(p);
    const Result a = collect(*first);
    EXPECT_EQ(first->prompt_tokens_computed(), static_cast<int64_t>(p.prompt.size()));
    auto second = s.submit(p);
    const Result b = collect(*second);
    EXPECT_EQ(second->prompt_tokens_computed(), 0);  // the whole prompt came from the cache, logits and all
    EXPECT_EQ(a.text.at(0), b.text.at(0));
    // A longer prompt starting with it reads only the rest.
    JobParams longer = p;
    const std::vector<int32_t> more = f.tokenizer->encode(" that would depopulate");
    longer.prompt.insert(longer.prompt.end(), more.begin(), more.end());
    auto third = s.submit(longer);
    const Result c = collect(*third);
    EXPECT_EQ(third->prompt_tokens_computed(), static_cast<int64_t>(more.size()));
    EXPECT_EQ(c.text.at(0), alone(longer));
    EXPECT_GE(s.stats().cache.hits, 2u);
}

TEST(Scheduler, ChoicesShareThePromptAndDifferBySeed) {
    Fixture& f = fixture();
    Scheduler s(*f.model, *f.tokenizer, SchedulerOptions{});
    JobParams p = params("BRUTUS:", 40, 1.0f, 100);
    p.n = 3;
    auto job = s.submit(p);
    const Result r = collect(*job);
    EXPECT_EQ(job->prompt_tokens_computed(), static_cast<int64_t>(p.prompt.size()));  // read once for all three
    for (int c = 0; c < 3; ++c) EXPECT_EQ(r.text.at(c), alone(p, c)) << "choice " << c;
    EXPECT_NE(r.text.at(0), r.text.at(1));
}

TEST(Scheduler, CancelFullQueueAndShutdown) {
    Fixture& f = fixture();
    SchedulerOptions o;
    o.parallel = 1;
    o.max_queue = 1;
    Scheduler s(*f.model, *f.tokenizer, o);
    JobParams endless = params("A", 1 << 20, 1.0f, 1);
    endless.stop.clear();
    endless.stop_at_eos = false;
    auto running = s.submit(endless);
    JobEvent e;
    ASSERT_TRUE(running->next(e, std::chrono::seconds(30)));  // it has its sequence
    auto waiting = s.submit(endless);
    EXPECT_THROW(s.submit(endless), Error);  // one running, one waiting: the queue is full
    running->cancel();
    const Result r = collect(*running);
    EXPECT_EQ(r.finish.at(0), "cancelled");
    ASSERT_TRUE(waiting->next(e, std::chrono::seconds(30)));  // the freed sequence went to the waiting job
    EXPECT_FALSE(e.finished);
    s.shutdown(std::chrono::milliseconds(0));  // cancels what runs, and refuses new jobs
    EXPECT_EQ(collect(*waiting).finish.at(0), "cancelled");
    EXPECT_THROW(s.submit(endless), Error);
    EXPECT_EQ(s.stats().active, 0u);
}

TEST(Scheduler, RefusesJobsItCannotRun) {
    Fixture& f = fixture();
    SchedulerOptions o;
    o.parallel = 2;
    Scheduler s(*f.model, *f.tokenizer, o);
    JobParams p = params("A", 4, 1.0f, 1);
    p.n = 3;
    EXPECT_THROW(s.submit(p), Error);
    p = params("A", 4, 1.0f, 1);
    p.prompt.clear();
    EXPECT_THROW(s.submit(p), Error);
    p = params("A", 4, -1.0f, 1);
    EXPECT_THROW(s.submit(p), Error);
}

}  // namespace
}  // namespace rwkv::serve
