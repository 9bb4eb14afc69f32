// rwkv tokenize: stdin text -> JSON ids, or with --decode stdin ids -> text.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "rwkv/error.h"

namespace rwkv::cli {

namespace {
struct TokenizeArgs {
    std::string tokenizer, model;
    bool decode = false;
};
}  // namespace

Runner add_tokenize(CLI::App& cmd) {
    auto a = std::make_shared<TokenizeArgs>();
    cmd.add_option("--tokenizer", a->tokenizer, "World vocab .txt, tokenizer.json, or 'bytes'");
    cmd.add_option("-m,--model", a->model, "find the tokenizer beside this model");
    cmd.add_flag("--decode", a->decode, "read ids (JSON array or comma separated) and print the text");
    return [a] {
        if (a->tokenizer.empty() && a->model.empty()) throw Error("pass --tokenizer FILE|bytes or -m MODEL");
        auto tok = find_tokenizer(a->model, a->tokenizer);
        const std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
        if (a->decode) {
            const std::string text = tok->decode(parse_token_list(input));
            std::fwrite(text.data(), 1, text.size(), stdout);
        } else {
            std::printf("%s\n", nlohmann::json(tok->encode(input)).dump().c_str());
        }
        return 0;
    };
}

}  // namespace rwkv::cli
