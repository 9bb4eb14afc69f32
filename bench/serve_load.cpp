// Load for an OpenAI-compatible server (`rwkv serve`, llama.cpp's llama-server): S concurrent streams, each
// sending R streamed completions one after another (a prompt of its own, max_tokens T, end of text ignored), and
// the aggregate generated tokens/s, time to first token and per-stream rate as JSON (bench/README.md).
//
//   serve_load --port 8080 [--host 127.0.0.1] --streams 16 [--tokens 128] [--requests 2] [--prompt-words 16]
//              [--prompt-tokens N]   (the prompt as N token ids instead of words) [--salt K] (other prompts)
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
    std::string host = "127.0.0.1";
    int port = 8080, streams = 1, tokens = 128, requests = 2, prompt_words = 16;
    int prompt_tokens = 0;  // > 0: the prompt as this many token ids (1 to 9999), for models without a real vocabulary
    int salt = 0;           // changes every prompt, so that a warm-up's prompts are not the measured ones
};

struct Sample {
    double ttft_s = 0, seconds = 0;
    int64_t tokens = 0;
    bool ok = false;
};

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

Sample one_request(const Options& o, int stream, int request) {
    std::string prompt = "Run " + std::to_string(o.salt) + " stream " + std::to_string(stream) + " request " + std::to_string(request) + ":";
    for (int w = 0; w < o.prompt_words; ++w) prompt += " word" + std::to_string((stream * 31 + request * 7 + w) % 97);
    json ids = json::array();
    for (int i = 0; i < o.prompt_tokens; ++i) ids.push_back(1 + (o.salt * 7727 + stream * 7919 + request * 104729 + i * 31) % 9999);
    const json body = {{"prompt", o.prompt_tokens > 0 ? ids : json(prompt)}, {"max_tokens", o.tokens}, {"temperature", 1.0},
                       {"ignore_eos", true},     {"stream", true},         {"stream_options", {{"include_usage", true}}},
                       {"seed", stream * 1000 + request}};
    httplib::Client c(o.host, o.port);
    c.set_read_timeout(600, 0);
    Sample s;
    std::string buffer;
    int64_t chunks = 0, usage_tokens = -1;
    const auto t0 = Clock::now();
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = body.dump();
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
        buffer.append(data, n);
        for (size_t end; (end = buffer.find("\n\n")) != std::string::npos; buffer.erase(0, end + 2)) {
            const std::string event = buffer.substr(0, end);
            if (event.rfind("data: ", 0) != 0 || event == "data: [DONE]") continue;
            const json j = json::parse(event.substr(6), nullptr, false);
            if (j.is_discarded()) continue;
            if (j.contains("usage") && j["usage"].is_object() && j["usage"].contains("completion_tokens"))
                usage_tokens = j["usage"]["completion_tokens"].get<int64_t>();
            if (!j.contains("choices") || j["choices"].empty()) continue;
            const json& text = j["choices"][0]["text"];
            if (text.is_string() && !text.get<std::string>().empty()) {
                if (chunks++ == 0) s.ttft_s = std::chrono::duration<double>(Clock::now() - t0).count();
            }
        }
        return true;
    };
    httplib::Response res;
    httplib::Error error;
    s.ok = c.send(req, res, error) && res.status == 200;
    s.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    s.tokens = usage_tokens >= 0 ? usage_tokens : chunks;
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--host") o.host = v;
        else if (k == "--port") o.port = std::atoi(v.c_str());
        else if (k == "--streams") o.streams = std::atoi(v.c_str());
        else if (k == "--tokens") o.tokens = std::atoi(v.c_str());
        else if (k == "--requests") o.requests = std::atoi(v.c_str());
        else if (k == "--prompt-words") o.prompt_words = std::atoi(v.c_str());
        else if (k == "--prompt-tokens") o.prompt_tokens = std::atoi(v.c_str());
        else if (k == "--salt") o.salt = std::atoi(v.c_str());
        else {
            std::fprintf(stderr, "serve_load: unknown option %s\n", k.c_str());
            return 2;
        }
    }
    std::vector<std::vector<Sample>> samples(static_cast<size_t>(o.streams));
    const auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (int s = 0; s < o.streams; ++s)
        threads.emplace_back([&, s] {
            for (int r = 0; r < o.requests; ++r) samples[static_cast<size_t>(s)].push_back(one_request(o, s, r));
        });
    for (auto& t : threads) t.join();
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    int64_t tokens = 0;
    int failed = 0;
    std::vector<double> ttft, rate;
    for (const auto& per : samples)
        for (const Sample& s : per) {
            if (!s.ok) {
                ++failed;
                continue;
            }
            tokens += s.tokens;
            ttft.push_back(s.ttft_s);
            if (s.seconds > s.ttft_s) rate.push_back(static_cast<double>(s.tokens - 1) / (s.seconds - s.ttft_s));
        }
    const json out = {{"streams", o.streams},
                      {"requests_per_stream", o.requests},
                      {"max_tokens", o.tokens},
                      {"failed", failed},
                      {"generated_tokens", tokens},
                      {"seconds", wall},
                      {"aggregate_tokens_per_s", static_cast<double>(tokens) / wall},
                      {"ttft_median_s", median(ttft)},
                      {"ttft_max_s", ttft.empty() ? 0.0 : *std::max_element(ttft.begin(), ttft.end())},
                      {"per_stream_tokens_per_s_median", median(rate)}};
    std::printf("%s\n", out.dump().c_str());
    return failed ? 1 : 0;
}
