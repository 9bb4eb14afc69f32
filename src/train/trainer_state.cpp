#include "train/trainer_state.h"

#include "core/file_util.h"
#include "rwkv/error.h"

namespace rwkv::train {

namespace {
constexpr char kStateMagic[8] = {'R', 'W', 'K', 'V', 'T', 'R', 'N', '1'};
}  // namespace

uint64_t weights_hash(const ParamSet<float>& params) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const Param<float>& p : params.all()) {
        const auto* b = reinterpret_cast<const uint8_t*>(p.value.data());
        for (size_t i = 0; i < p.size() * sizeof(float); ++i) h = (h ^ b[i]) * 0x100000001b3ull;
    }
    return h;
}

void save_trainer_state(const std::string& path, const TrainerState& st, const nlohmann::json& config) {
    nlohmann::json j = {{"step", st.step},
                        {"tokens_seen", st.tokens_seen},
                        {"model_file", st.model_file},
                        {"model_hash", std::to_string(st.model_hash)},
                        {"rng", st.rng},
                        {"config", config}};
    const std::string header = j.dump();
    std::vector<uint8_t> out(kStateMagic, kStateMagic + 8);
    auto put64 = [&](uint64_t v) {
        for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
    };
    put64(header.size());
    out.insert(out.end(), header.begin(), header.end());
    put64(st.optimizer.size());
    out.insert(out.end(), st.optimizer.begin(), st.optimizer.end());
    write_file_atomic(path, out.data(), out.size());
}

TrainerState load_trainer_state(const std::string& path, nlohmann::json& config) {
    const std::vector<uint8_t> b = read_file_bytes(path);
    size_t at = 0;
    auto need = [&](size_t n, const char* what) {
        if (b.size() - at < n) throw Error(path + ": trainer state truncated in " + std::string(what));
    };
    need(8, "magic");
    if (!std::equal(kStateMagic, kStateMagic + 8, b.begin())) throw Error(path + ": not a trainer state (bad magic)");
    at = 8;
    auto get64 = [&](const char* what) {
        need(8, what);
        uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(b[at + i]) << (8 * i);
        at += 8;
        return v;
    };
    const uint64_t hn = get64("header length");
    need(hn, "header");
    TrainerState st;
    try {
        const nlohmann::json j = nlohmann::json::parse(b.begin() + static_cast<std::ptrdiff_t>(at),
                                                       b.begin() + static_cast<std::ptrdiff_t>(at + hn));
        st.step = j.at("step").get<int64_t>();
        st.tokens_seen = j.at("tokens_seen").get<int64_t>();
        st.model_file = j.at("model_file").get<std::string>();
        st.model_hash = std::stoull(j.at("model_hash").get<std::string>());
        st.rng = j.at("rng").get<std::string>();
        config = j.at("config");
    } catch (const nlohmann::json::exception& e) {
        throw Error(path + ": trainer state header: " + e.what());
    }
    at += hn;
    const uint64_t on = get64("optimizer length");
    need(on, "optimizer state");
    st.optimizer.assign(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + on));
    return st;
}

}  // namespace rwkv::train
