// rwkv info: what a model file holds, as JSON.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"

namespace rwkv::cli {

Runner add_info(CLI::App& cmd) {
    auto a = std::make_shared<ModelOptions>();
    a->add_to(cmd);
    return [a] {
        auto model = a->load();
        const ModelInfo& i = model->info();
        nlohmann::json j;
        j["path"] = i.path;
        j["format"] = i.format;
        j["generation"] = i.version_string();
        j["version"] = i.version;
        if (!i.variant.empty()) j["variant"] = i.variant;
        j["n_layer"] = i.n_layer;
        j["n_embd"] = i.n_embd;
        j["n_vocab"] = i.n_vocab;
        j["ffn_dim"] = i.ffn_dim;
        if (i.version >= 5) {
            j["n_head"] = i.n_head;
            j["head_size"] = i.head_size;
            j["groupnorm_eps"] = i.groupnorm_eps;
        }
        if (i.version == 6) j["lora_dims"] = {{"maa", i.lora_dims[0]}, {"decay", i.lora_dims[1]}};
        if (i.version == 7)
            j["lora_dims"] = {{"w", i.lora_dims[0]}, {"a", i.lora_dims[1]}, {"v", i.lora_dims[2]}, {"g", i.lora_dims[3]}};
        j["dtype"] = i.dtype;
        j["n_params"] = i.n_params;
        j["state_floats"] = model->new_state().data().size();
        try {
            auto tok = a->load_tokenizer();
            j["tokenizer"] = {{"kind", tok->kind()}, {"vocab_size", tok->vocab_size()}};
        } catch (const std::exception&) {
            j["tokenizer"] = nullptr;
        }
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    };
}

}  // namespace rwkv::cli
