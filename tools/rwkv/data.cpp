// rwkv data: text files or JSON Lines documents -> one token file for training (src/train/token_data.h).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "commands.h"
#include "rwkv/error.h"
#include "train/token_data.h"

namespace rwkv::cli {

namespace {

struct DataArgs {
    std::vector<std::string> inputs;
    std::string output, tokenizer, field = "text";
    bool jsonl = false, eos = false;
};

struct Totals {
    uint64_t documents = 0, bytes = 0;
};

// Plain text is encoded a piece of about this size at a time, so a large file never sits in memory whole
// beside its tokens.
constexpr size_t kPiece = size_t{1} << 20;

// A piece may end right after a line break only where the next byte is not white space: no World vocabulary
// entry holds "\n" followed by anything but \t \n \r or space, so longest-match never joins across such a cut,
// and bytes is per byte anyway. NeoX's pre-tokenizer also splits a line break from the word after it, so it
// should match too, but a NeoX added token spanning a line break would not; that case is not checked.
bool can_cut_before(const std::string& buf, size_t i) {
    if (buf[i - 1] != '\n') return false;
    const char c = buf[i];
    return c != '\n' && c != '\r' && c != ' ' && c != '\t';
}

std::ifstream open_input(const std::string& path) {
    if (std::filesystem::is_directory(path)) throw Error(path + ": is a directory, not a text file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open");
    return in;
}

// The whole file is one document, encoded piece by piece.
void add_text_file(const std::string& path, const Tokenizer& tok, std::vector<int32_t>& tokens, Totals& totals) {
    std::ifstream in = open_input(path);
    const auto emit = [&](std::string_view piece) {
        const std::vector<int32_t> ids = tok.encode(piece);
        tokens.insert(tokens.end(), ids.begin(), ids.end());
        totals.bytes += piece.size();
    };
    std::string buf;
    size_t scanned = 0;  // cut points before this index were already looked for
    for (;;) {
        const size_t had = buf.size();
        buf.resize(had + kPiece);
        in.read(buf.data() + had, static_cast<std::streamsize>(kPiece));
        buf.resize(had + static_cast<size_t>(in.gcount()));
        if (in.bad()) throw Error(path + ": read failed");
        if (in.eof()) break;
        // The last cut point in the unscanned part: pieces as large as they can be, the rest carried over.
        size_t cut = 0;
        for (size_t i = buf.size() - 1; i >= std::max<size_t>(scanned, 1); --i)
            if (can_cut_before(buf, i)) {
                cut = i;
                break;
            }
        if (cut > 0) {
            emit(std::string_view(buf).substr(0, cut));
            buf.erase(0, cut);
        }
        scanned = buf.size();
    }
    emit(buf);
}

// One document per non-blank line: the string in `field` of the line's JSON object.
void add_jsonl_file(const std::string& path, const std::string& field, bool eos, const Tokenizer& tok,
                    std::vector<int32_t>& tokens, Totals& totals) {
    std::ifstream in = open_input(path);
    std::string line;
    for (uint64_t number = 1; std::getline(in, line); ++number) {
        const std::string where = path + ":" + std::to_string(number) + ": ";
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(line);
        } catch (const nlohmann::json::parse_error& e) {
            throw Error(where + "not valid JSON (" + e.what() + ")");
        }
        if (!j.is_object()) throw Error(where + "not a JSON object");
        const auto it = j.find(field);
        if (it == j.end()) throw Error(where + "no \"" + field + "\" field");
        if (!it->is_string()) throw Error(where + "field \"" + field + "\" is a " + it->type_name() + ", not a string");
        const auto& text = it->get_ref<const std::string&>();
        const std::vector<int32_t> ids = tok.encode(text);
        tokens.insert(tokens.end(), ids.begin(), ids.end());
        if (eos) tokens.push_back(tok.eos_id());
        totals.bytes += text.size();
        ++totals.documents;
    }
    if (in.bad()) throw Error(path + ": read failed");
}

}  // namespace

Runner add_data(CLI::App& cmd) {
    auto a = std::make_shared<DataArgs>();
    cmd.add_option("inputs", a->inputs, "text files (each one document), or JSON Lines files with --jsonl")
        ->required();
    cmd.add_option("-o,--output", a->output, "token file to write (.tok)")->required();
    cmd.add_option("--tokenizer", a->tokenizer, "World vocab .txt, tokenizer.json, or 'bytes'")->required();
    cmd.add_flag("--jsonl", a->jsonl, "inputs are JSON Lines: one document per line, in --field");
    cmd.add_option("--field", a->field, "the JSON Lines field holding each document's text")->capture_default_str();
    cmd.add_flag("--eos", a->eos, "append the tokenizer's end-of-text id after each document");
    return [a] {
        const auto tok = load_tokenizer(a->tokenizer);
        std::vector<int32_t> tokens;
        Totals totals;
        for (const auto& path : a->inputs) {
            if (a->jsonl) {
                add_jsonl_file(path, a->field, a->eos, *tok, tokens, totals);
            } else {
                add_text_file(path, *tok, tokens, totals);
                if (a->eos) tokens.push_back(tok->eos_id());
                ++totals.documents;
            }
        }
        train::write_token_file(a->output, tokens, static_cast<uint32_t>(tok->vocab_size()), tok->kind());
        nlohmann::ordered_json j;
        j["output"] = a->output;
        j["tokens"] = tokens.size();
        j["vocab_size"] = tok->vocab_size();
        j["tokenizer"] = tok->kind();
        j["documents"] = totals.documents;
        j["bytes"] = totals.bytes;  // of document text: whole files, or the JSON Lines strings
        std::printf("%s\n", j.dump().c_str());
        return 0;
    };
}

}  // namespace rwkv::cli
