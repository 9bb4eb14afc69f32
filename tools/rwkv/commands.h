#pragma once
// Each subcommand registers its options on the app and returns the function that runs it.
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rwkv/model.h"
#include "rwkv/sampler.h"
#include "rwkv/tokenizer.h"

namespace rwkv::cli {

using Runner = std::function<int()>;

Runner add_generate(CLI::App& app);
Runner add_chat(CLI::App& app);
Runner add_logits(CLI::App& app);
Runner add_tokenize(CLI::App& app);
Runner add_info(CLI::App& app);
Runner add_bench(CLI::App& app);
Runner add_init(CLI::App& app);
Runner add_convert(CLI::App& app);
Runner add_train(CLI::App& app);
Runner add_data(CLI::App& app);
Runner add_serve(CLI::App& app);

// Options shared by the commands that load a model.
struct ModelOptions {
    std::string model;
    std::string tokenizer;
    int threads = 0;  // 0: chosen by the model (Model::load)

    void add_to(CLI::App& cmd, bool with_tokenizer = true);
    std::unique_ptr<Model> load() const;
    std::unique_ptr<Tokenizer> load_tokenizer() const;
    // The same, refused unless it can decode every id the loaded model can produce (check_covers).
    std::unique_ptr<Tokenizer> load_tokenizer(const Model& loaded) const;
};

// Sampling options as ChatRWKV and llama.cpp spell them.
struct SamplingOptions {
    SamplerParams params;
    bool seed_given = false;

    void add_to(CLI::App& cmd);
    SamplerParams resolve() const;  // a random seed when none was given
};

// -t: a whole number from 1 to ThreadPool::max_threads(), with a message naming the limit.
CLI::Validator thread_count();

// "1,2,3" or "1 2 3" -> ids; throws rwkv::Error on anything else.
std::vector<int32_t> parse_token_list(const std::string& text);

}  // namespace rwkv::cli
