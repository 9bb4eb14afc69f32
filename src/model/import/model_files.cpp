#include "model/import/model_files.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/file_util.h"
#include "model/import/hf_rwkv7.h"
#include "model/names.h"
#include "rwkv/error.h"
#include "rwkv/formats.h"

namespace rwkv {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& t) {
    return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

// The shards an index names, each read whole and checked against the index: every tensor in the shard the index
// gives for it, and every tensor the index lists found.
TensorFile load_sharded(const std::string& index_path) {
    const std::vector<uint8_t> bytes = read_file_bytes(index_path, size_t{64} << 20);
    const nlohmann::json index = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
    if (index.is_discarded() || !index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
        throw Error(index_path + ": not a safetensors index (a JSON object with a weight_map)");
    std::map<std::string, std::string> where;  // tensor -> shard
    std::set<std::string> shards;
    for (const auto& [name, shard] : index["weight_map"].items()) {
        if (!shard.is_string()) throw Error(index_path + ": weight_map['" + name + "'] is not a file name");
        const std::string s = shard.get<std::string>();
        if (s.empty() || s.find('/') != std::string::npos || s.find('\\') != std::string::npos || s == "." || s == "..")
            throw Error(index_path + ": weight_map['" + name + "'] names '" + s + "', not a file beside the index");
        where[name] = s;
        shards.insert(s);
    }
    if (shards.empty()) throw Error(index_path + ": the weight_map is empty");
    const fs::path dir = fs::path(index_path).parent_path();
    TensorFile out;
    out.path = index_path;
    out.format = "safetensors";
    for (const std::string& shard : shards) {
        TensorFile part = load_safetensors((dir / shard).string());
        for (auto& [name, t] : part.tensors) {
            const auto it = where.find(name);
            if (it == where.end()) throw Error(part.path + ": holds '" + name + "', which the index does not list");
            if (it->second != shard) throw Error(part.path + ": holds '" + name + "', which the index puts in " + it->second);
            out.tensors.emplace(name, std::move(t));
        }
    }
    for (const auto& [name, shard] : where)
        if (!out.has(name)) throw Error(index_path + ": '" + name + "' is not in " + shard + " as the index says");
    return out;
}

// A Hugging Face download's directory: its index, its one safetensors file, or its one .pth.
std::string model_in_directory(const std::string& dir) {
    const fs::path d(dir);
    std::error_code ec;
    for (const char* name : {"model.safetensors.index.json", "model.safetensors"})
        if (fs::is_regular_file(d / name, ec)) return (d / name).string();
    std::vector<std::string> found;
    for (const char* ext : {".safetensors", ".pth"}) {
        found.clear();
        for (const auto& entry : fs::directory_iterator(d, ec))
            if (entry.is_regular_file(ec) && ends_with(entry.path().filename().string(), ext)) found.push_back(entry.path().string());
        if (found.size() == 1) return found[0];
        if (found.size() > 1)
            throw Error(dir + ": holds several " + ext + " files and no model.safetensors.index.json; name the model file");
    }
    throw Error(dir + ": no model in this directory (looked for model.safetensors.index.json, a .safetensors or a .pth file)");
}

}  // namespace

TensorFile load_model_files(const std::string& path) {
    std::error_code ec;
    const std::string file = fs::is_directory(path, ec) ? model_in_directory(path) : path;
    if (ends_with(file, ".safetensors.index.json")) return load_sharded(file);
    return load_tensor_file(file);
}

}  // namespace rwkv

namespace rwkv {

TensorFile load_official_layout(const std::string& path) {
    TensorFile file = load_model_files(path);
    normalize_tensor_names(file);
    import_hf_rwkv7(file);
    return file;
}

}  // namespace rwkv
