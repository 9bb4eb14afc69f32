// rwkv: run, inspect and convert RWKV language models. See DESIGN.md for the command contract.
#include <cstdio>
#include <exception>
#include <new>

#include "commands.h"
#include "rwkv/error.h"

int main(int argc, char** argv) {
    CLI::App app{"rwkv: the RWKV language-model engine (v4, v5, v6, v7)"};
    app.require_subcommand(1);
    std::vector<std::pair<CLI::App*, rwkv::cli::Runner>> commands;
    auto add = [&](const char* name, const char* help, rwkv::cli::Runner (*make)(CLI::App&)) {
        CLI::App* sub = app.add_subcommand(name, help);
        commands.emplace_back(sub, make(*sub));
    };
    add("generate", "generate text from a prompt", rwkv::cli::add_generate);
    add("chat", "interactive chat (RWKV World format), state kept between turns", rwkv::cli::add_chat);
    add("logits", "write the logits after each token as float32 [T, vocab]", rwkv::cli::add_logits);
    add("tokenize", "text on stdin to JSON token ids (or back with --decode)", rwkv::cli::add_tokenize);
    add("info", "describe a model file as JSON", rwkv::cli::add_info);
    add("bench", "measure generation and prompt speed against the memory-bandwidth limit, as JSON",
        rwkv::cli::add_bench);
    add("init", "write a random-weight model of any published shape and weight type (GGUF)", rwkv::cli::add_init);
    add("convert", "convert a model file to GGUF with projections in a chosen weight type", rwkv::cli::add_convert);
    add("data", "tokenize text files or JSON Lines into a token file for training", rwkv::cli::add_data);
    add("serve", "an OpenAI-compatible HTTP server batching every conversation into one step, with a chat page",
        rwkv::cli::add_serve);
    add("train", "train or fine-tune an RWKV-7 / RWKV-4 model on a token file (mpirun for several processes)",
        rwkv::cli::add_train);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        // One line, like every other error; --help still lists the options.
        std::fprintf(stderr, "rwkv: error: %s (see --help)\n", rwkv::printable(e.what()).c_str());
        return e.get_exit_code() != 0 ? e.get_exit_code() : 2;
    }
    try {
        for (auto& [sub, run] : commands)
            if (sub->parsed()) return run();
    } catch (const std::bad_alloc&) {
        std::fflush(stdout);
        std::fprintf(stderr, "rwkv: error: out of memory\n");
        return 1;
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "rwkv: error: %s\n", rwkv::printable(e.what()).c_str());
        return 1;
    }
    return 1;
}
