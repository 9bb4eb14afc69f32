// The HTTP server end to end, in process on a free port: OpenAI's shapes for completions and chat (whole and
// streamed), the errors a bad request gets (each with its status, the server serving on), API keys, state
// uploads, a client that vanishes mid-stream, 200 connections at once, and the chat page.
#include "serve/server.h"

#include <httplib.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "rwkv/formats.h"
#include "rwkv/model.h"
#include "rwkv/tokenizer.h"
#include "serve/scheduler.h"

namespace rwkv::serve {
namespace {

using nlohmann::json;

const char* kModel = RWKV_SOURCE_DIR "/assets/rwkv7-shakespeare-4x256.gguf";

// The options every test starts from: a free port, small limits.
ServerOptions test_options() {
    ServerOptions so;
    so.port = 0;
    so.model_id = "shakespeare";
    so.log_requests = false;
    so.max_body_bytes = 64 * 1024;
    so.max_tokens_limit = 500;
    return so;
}

class Running {
public:
    explicit Running(ServerOptions so = test_options(), SchedulerOptions sched = {})
        : model_(Model::load(kModel)), tokenizer_(load_tokenizer("bytes")) {
        scheduler_ = std::make_unique<Scheduler>(*model_, *tokenizer_, sched);
        server_ = std::make_unique<Server>(*model_, *tokenizer_, *scheduler_, so);
        server_->bind();
        thread_ = std::thread([this] { server_->run(); });
    }
    ~Running() {
        scheduler_->shutdown(std::chrono::milliseconds(0));
        server_->drain(std::chrono::seconds(5));
        server_->stop();
        thread_.join();
    }
    httplib::Client client() const {
        httplib::Client c("127.0.0.1", server_->port());
        c.set_read_timeout(60, 0);
        return c;
    }
    const Model& model() const { return *model_; }
    Scheduler& scheduler() { return *scheduler_; }

private:
    std::unique_ptr<Model> model_;
    std::unique_ptr<Tokenizer> tokenizer_;
    std::unique_ptr<Scheduler> scheduler_;
    std::unique_ptr<Server> server_;
    std::thread thread_;
};

json post(httplib::Client& c, const std::string& path, const json& body, int* status = nullptr) {
    auto r = c.Post(path, body.dump(), "application/json");
    EXPECT_TRUE(r) << path;
    if (!r) return {};
    if (status) *status = r->status;
    return json::parse(r->body);
}

// A streamed POST whose body goes to `receive` a piece at a time; returning false hangs up.
void post_streaming(httplib::Client& c, const std::string& body, const std::function<bool()>& receive) {
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = body;
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return receive(); };
    httplib::Response res;
    httplib::Error error;
    c.send(req, res, error);
}

// The "data:" payloads of an event stream, [DONE] included.
std::vector<std::string> events(const std::string& body) {
    std::vector<std::string> out;
    for (size_t at = 0; (at = body.find("data: ", at)) != std::string::npos;) {
        const size_t end = body.find("\n\n", at);
        out.push_back(body.substr(at + 6, end - at - 6));
        at = end;
    }
    return out;
}

TEST(Server, CompletionsWholeAndStreamedAgree) {
    Running s;
    auto c = s.client();
    const json req = {{"model", "shakespeare"}, {"prompt", "ROMEO:"}, {"max_tokens", 30}, {"temperature", 0}};
    int status = 0;
    const json whole = post(c, "/v1/completions", req, &status);
    EXPECT_EQ(status, 200);
    EXPECT_EQ(whole["object"], "text_completion");
    EXPECT_EQ(whole["model"], "shakespeare");
    ASSERT_EQ(whole["choices"].size(), 1u);
    EXPECT_EQ(whole["choices"][0]["finish_reason"], "length");
    EXPECT_EQ(whole["usage"]["prompt_tokens"], 6);
    EXPECT_EQ(whole["usage"]["completion_tokens"], 30);
    EXPECT_EQ(whole["usage"]["total_tokens"], 36);

    json streamed = req;
    streamed["stream"] = true;
    streamed["stream_options"] = {{"include_usage", true}};
    auto r = c.Post("/v1/completions", streamed.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
    const std::vector<std::string> ev = events(r->body);
    ASSERT_GE(ev.size(), 3u);
    EXPECT_EQ(ev.back(), "[DONE]");
    std::string text;
    for (size_t i = 0; i + 2 < ev.size(); ++i) text += json::parse(ev[i])["choices"][0]["text"].get<std::string>();
    EXPECT_EQ(text, whole["choices"][0]["text"]);
    const json usage = json::parse(ev[ev.size() - 2]);
    EXPECT_EQ(usage["choices"].size(), 0u);
    EXPECT_EQ(usage["usage"]["completion_tokens"], 30);
}

TEST(Server, ChatRepliesInOpenAIsShapeAndResumesFromTheCache) {
    Running s;
    auto c = s.client();
    json req = {{"messages", json::array({{{"role", "system"}, {"content", "Speak as a Roman."}},
                                          {{"role", "user"}, {"content", "Who art thou?"}}})},
                {"max_tokens", 40},
                {"temperature", 0},
                {"n", 2}};
    int status = 0;
    const json a = post(c, "/v1/chat/completions", req, &status);
    EXPECT_EQ(status, 200);
    EXPECT_EQ(a["object"], "chat.completion");
    ASSERT_EQ(a["choices"].size(), 2u);
    EXPECT_EQ(a["choices"][0]["message"]["role"], "assistant");
    EXPECT_EQ(a["choices"][0]["message"]["content"], a["choices"][1]["message"]["content"]);  // greedy: the same
    // The next turn repeats this one: it resumes from the state kept after the user's message.
    const uint64_t computed = s.scheduler().stats().computed_prompt_tokens;
    req["messages"].push_back({{"role", "assistant"}, {"content", a["choices"][0]["message"]["content"]}});
    req["messages"].push_back({{"role", "user"}, {"content", "And whence?"}});
    req["n"] = 1;
    const json b = post(c, "/v1/chat/completions", req, &status);
    EXPECT_EQ(status, 200);
    // At least the turns before the first reply come from the cache (bytes tokenizer: a token per byte).
    const uint64_t read = s.scheduler().stats().computed_prompt_tokens - computed;
    const uint64_t turns = std::string("System: Speak as a Roman.\n\nUser: Who art thou?\n\n").size();
    EXPECT_LE(read, b["usage"]["prompt_tokens"].get<uint64_t>() - turns) << "the history was read again";
    // Streamed: a role chunk first, then content, then the finish.
    req["stream"] = true;
    auto r = c.Post("/v1/chat/completions", req.dump(), "application/json");
    ASSERT_TRUE(r);
    const std::vector<std::string> ev = events(r->body);
    ASSERT_GE(ev.size(), 3u);
    EXPECT_EQ(json::parse(ev[0])["choices"][0]["delta"]["role"], "assistant");
    EXPECT_EQ(json::parse(ev[ev.size() - 2])["choices"][0]["finish_reason"], b["choices"][0]["finish_reason"]);
    std::string content;
    for (size_t i = 1; i + 2 < ev.size(); ++i) content += json::parse(ev[i])["choices"][0]["delta"].value("content", "");
    EXPECT_EQ(content, b["choices"][0]["message"]["content"]);
}

TEST(Server, JsonSchemaRepliesAlwaysParseAndMatch) {
    Running s;
    auto c = s.client();
    const json schema = {{"type", "object"},
                         {"properties", {{"name", {{"type", "string"}, {"maxLength", 8}}},
                                         {"legs", {{"type", "integer"}}},
                                         {"kind", {{"enum", {"bird", "beast"}}}}}},
                         {"required", {"name", "legs", "kind"}},
                         {"additionalProperties", false}};
    const json req = {{"messages", json::array({{{"role", "user"}, {"content", "Describe an animal."}}})},
                      {"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "animal"}, {"schema", schema}}}}},
                      {"max_tokens", 400},
                      {"temperature", 1.5},
                      {"seed", 11},
                      {"n", 4}};
    int status = 0;
    const json r = post(c, "/v1/chat/completions", req, &status);
    ASSERT_EQ(status, 200) << r.dump();
    ASSERT_EQ(r["choices"].size(), 4u);
    for (const json& choice : r["choices"]) {
        EXPECT_EQ(choice["finish_reason"], "stop");
        const json v = json::parse(choice["message"]["content"].get<std::string>());
        // The schema's order, and its types.
        ASSERT_EQ(v.size(), 3u);
        EXPECT_TRUE(v["name"].is_string());
        EXPECT_TRUE(v["legs"].is_number_integer());
        EXPECT_TRUE(v["kind"] == "bird" || v["kind"] == "beast") << v.dump();
    }
    // The same on /v1/completions, with json_object.
    const json any = post(c, "/v1/completions",
                          {{"prompt", "{"}, {"max_tokens", 400}, {"seed", 2}, {"response_format", {{"type", "json_object"}}}},
                          &status);
    ASSERT_EQ(status, 200);
    if (any["choices"][0]["finish_reason"] == "stop") {
        EXPECT_TRUE(json::parse(any["choices"][0]["text"].get<std::string>()).is_object());
    }
    // What cannot be enforced is refused, naming the field.
    json bad = req;
    bad["response_format"]["json_schema"]["schema"] = {{"type", "string"}, {"pattern", "^a+$"}};
    const json e = post(c, "/v1/chat/completions", bad, &status);
    EXPECT_EQ(status, 400);
    EXPECT_EQ(e["error"]["param"], "response_format");
    EXPECT_NE(e["error"]["message"].get<std::string>().find("pattern"), std::string::npos);
}

TEST(Server, ToolCallsComeInOpenAIsShape) {
    Running s;
    auto c = s.client();
    const json tools = json::array(
        {{{"type", "function"},
          {"function", {{"name", "get_weather"},
                        {"description", "The weather in a city"},
                        {"parameters", {{"type", "object"},
                                        {"properties", {{"city", {{"type", "string"}, {"maxLength", 10}}},
                                                        {"days", {{"type", "integer"}}}}},
                                        {"required", {"city"}}}}}}},
         {{"type", "function"}, {"function", {{"name", "noon"}, {"parameters", {{"type", "object"}, {"properties", json::object()}, {"additionalProperties", false}}}}}}});
    json req = {{"messages", json::array({{{"role", "user"}, {"content", "Weather in Rome?"}}})},
                {"tools", tools},
                {"tool_choice", "required"},
                {"parallel_tool_calls", false},  // one call each, so that a random model ends within max_tokens
                {"max_tokens", 400},
                {"seed", 5},
                {"n", 3}};
    int status = 0;
    const json r = post(c, "/v1/chat/completions", req, &status);
    ASSERT_EQ(status, 200) << r.dump();
    for (const json& choice : r["choices"]) {
        ASSERT_EQ(choice["finish_reason"], "tool_calls") << choice.dump();
        EXPECT_TRUE(choice["message"]["content"].is_null());
        const json& calls = choice["message"]["tool_calls"];
        ASSERT_EQ(calls.size(), 1u);
        for (const json& call : calls) {
            EXPECT_EQ(call["type"], "function");
            EXPECT_EQ(call["id"].get<std::string>().rfind("call_", 0), 0u);
            const json args = json::parse(call["function"]["arguments"].get<std::string>());
            if (call["function"]["name"] == "get_weather") {
                EXPECT_TRUE(args["city"].is_string());
            } else {
                EXPECT_EQ(call["function"]["name"], "noon");
                EXPECT_EQ(args, json::object());
            }
        }
    }
    // One named function, streamed: the call arrives in a delta with its index.
    req["tool_choice"] = {{"type", "function"}, {"function", {{"name", "noon"}}}};
    req["stream"] = true;
    req["n"] = 1;
    auto streamed = c.Post("/v1/chat/completions", req.dump(), "application/json");
    ASSERT_TRUE(streamed);
    bool called = false;
    for (const std::string& ev : events(streamed->body)) {
        if (ev == "[DONE]") continue;
        const json chunk = json::parse(ev);
        const json& delta = chunk["choices"][0]["delta"];
        if (delta.contains("tool_calls")) {
            EXPECT_EQ(delta["tool_calls"][0]["index"], 0);
            EXPECT_EQ(delta["tool_calls"][0]["function"]["name"], "noon");
            called = true;
        }
        if (!chunk["choices"][0]["finish_reason"].is_null()) {
            EXPECT_EQ(chunk["choices"][0]["finish_reason"], "tool_calls");
        }
    }
    EXPECT_TRUE(called);
    // The conversation goes on with the call and its result in the history; "auto" may answer or call.
    req.erase("stream");
    req["tool_choice"] = "auto";
    req["messages"].push_back({{"role", "assistant"},
                               {"content", nullptr},
                               {"tool_calls", r["choices"][0]["message"]["tool_calls"]}});
    req["messages"].push_back({{"role", "tool"}, {"tool_call_id", r["choices"][0]["message"]["tool_calls"][0]["id"]}, {"content", "sunny"}});
    const json next = post(c, "/v1/chat/completions", req, &status);
    ASSERT_EQ(status, 200) << next.dump();
    const json& m = next["choices"][0]["message"];
    // A reply cut off at max_tokens stays text, as it came.
    EXPECT_TRUE((m["content"].is_string() && next["choices"][0]["finish_reason"] != "tool_calls") ||
                (m.contains("tool_calls") && next["choices"][0]["finish_reason"] == "tool_calls"))
        << next.dump();
    // Mistakes name their field.
    for (const auto& [field, value] : std::vector<std::pair<std::string, json>>{
             {"tool_choice", {{"type", "function"}, {"function", {{"name", "nowhere"}}}}},
             {"tools", "get_weather"},
             {"tools", json::array({{{"type", "function"}, {"function", {{"name", 3}}}}})},
             {"functions", json::array()}}) {
        json bad = req;
        bad[field] = value;
        const json e = post(c, "/v1/chat/completions", bad, &status);
        EXPECT_EQ(status, 400) << field;
        EXPECT_EQ(e["error"]["param"].get<std::string>().rfind(field, 0), 0u) << e.dump();
    }
}

TEST(Server, BadRequestsGetTheirStatusAndTheServerServesOn) {
    ServerOptions so = test_options();
    so.api_key = "secret";
    Running s(so);
    auto c = s.client();
    c.set_bearer_token_auth("secret");
    const auto status_of = [&](const std::string& path, const std::string& body) {
        auto r = c.Post(path, body, "application/json");
        if (!r) return -1;
        const json j = json::parse(r->body);  // every error is OpenAI's error object
        if (r->status >= 400) {
            EXPECT_TRUE(j.contains("error") && j["error"].contains("message")) << r->body;
        }
        return r->status;
    };
    EXPECT_EQ(status_of("/v1/completions", "{not json"), 400);
    EXPECT_EQ(status_of("/v1/completions", "[1,2]"), 400);
    EXPECT_EQ(status_of("/v1/completions", R"({"prompt": 5})"), 400);
    EXPECT_EQ(status_of("/v1/completions", R"({"prompt": "a", "max_tokens": "ten"})"), 400);
    EXPECT_EQ(status_of("/v1/completions", R"({"prompt": "a", "max_tokens": 100000})"), 400);
    EXPECT_EQ(status_of("/v1/completions", R"({"prompt": "a", "temperature": -1})"), 400);
    EXPECT_EQ(status_of("/v1/completions", R"({"prompt": [1, 2, 99999]})"), 400);
    EXPECT_EQ(status_of("/v1/completions", R"({"prompt": "a", "logit_bias": {"x": 1}})"), 400);
    EXPECT_EQ(status_of("/v1/completions", R"({"prompt": "a", "model": "gpt-4"})"), 404);
    EXPECT_EQ(status_of("/v1/chat/completions", R"({"messages": []})"), 400);
    EXPECT_EQ(status_of("/v1/chat/completions", R"({"messages": [{"role": "narrator", "content": "x"}]})"), 400);
    EXPECT_EQ(status_of("/v1/completions", std::string(100 * 1024, ' ')), 413);
    EXPECT_EQ(status_of("/v1/nowhere", "{}"), 404);
    httplib::Client anonymous = s.client();
    auto r = anonymous.Post("/v1/completions", R"({"prompt":"a"})", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(json::parse(r->body)["error"]["code"], "invalid_api_key");
    EXPECT_EQ(anonymous.Get("/health")->status, 200);  // health needs no key
    EXPECT_EQ(status_of("/v1/completions", R"({"prompt": "a", "max_tokens": 3})"), 200);
}

TEST(Server, AFullQueueAnswers429) {
    SchedulerOptions sched;
    sched.parallel = 1;
    sched.max_queue = 0;
    ServerOptions so = test_options();
    so.max_tokens_limit = 1 << 30;
    Running s(so, sched);
    auto c = s.client();
    // One stream that goes on until the client hangs up holds the only sequence; the queue takes nothing.
    std::atomic<bool> stop{false};
    std::thread holder([&] {
        auto h = s.client();
        post_streaming(h, R"({"prompt":"A","max_tokens":1000000000,"stream":true})", [&] { return !stop.load(); });
    });
    for (int i = 0; i < 3000 && s.scheduler().stats().active == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_EQ(s.scheduler().stats().active, 1u);
    int status = 0;
    post(c, "/v1/completions", {{"prompt", "B"}, {"max_tokens", 2}}, &status);
    EXPECT_EQ(status, 429);
    stop = true;
    holder.join();
}

TEST(Server, AVanishedClientFreesItsSequence) {
    Running s;
    {
        auto c = s.client();
        int chunks = 0;
        post_streaming(c, R"({"prompt":"A","max_tokens":500,"stream":true})", [&] { return ++chunks < 3; });  // reads a little, then hangs up
    }
    for (int i = 0; i < 500 && s.scheduler().stats().active > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(s.scheduler().stats().active, 0u);
    EXPECT_LT(s.scheduler().stats().generated_tokens, 500u);
}

TEST(Server, TwoHundredConnectionsAtOnce) {
    SchedulerOptions sched;
    sched.parallel = 8;
    sched.max_queue = 64;
    Running s(test_options(), sched);
    std::atomic<int> ok{0}, busy{0}, other{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < 200; ++i)
        clients.emplace_back([&, i] {
            auto c = s.client();
            auto r = c.Post("/v1/completions", json({{"prompt", "Q" + std::to_string(i)}, {"max_tokens", 8}}).dump(),
                            "application/json");
            if (r && r->status == 200)
                ++ok;
            else if (r && r->status == 429)
                ++busy;
            else
                ++other;
        });
    for (auto& t : clients) t.join();
    EXPECT_EQ(other.load(), 0);
    EXPECT_EQ(ok.load() + busy.load(), 200);
    EXPECT_GT(ok.load(), 0);
    auto c = s.client();
    int status = 0;
    post(c, "/v1/completions", {{"prompt", "after"}, {"max_tokens", 4}}, &status);
    EXPECT_EQ(status, 200);
}

TEST(Server, UploadedStatesStartRequests) {
    Running s;
    auto c = s.client();
    State st = s.model().new_state();
    const std::vector<int32_t> context = {'K', 'I', 'N', 'G', ':', '\n'};
    s.model().eval_sequence(st, context, nullptr, false);
    const std::vector<uint8_t> bytes = st.to_bytes();
    auto r = c.Post("/v1/states", std::string(bytes.begin(), bytes.end()), "application/octet-stream");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const std::string id = json::parse(r->body)["id"];
    int status = 0;
    const json from_state = post(c, "/v1/completions", {{"prompt", "I"}, {"max_tokens", 20}, {"temperature", 0}, {"state", id}}, &status);
    EXPECT_EQ(status, 200);
    const json whole = post(c, "/v1/completions", {{"prompt", "KING:\nI"}, {"max_tokens", 20}, {"temperature", 0}}, &status);
    EXPECT_EQ(from_state["choices"][0]["text"], whole["choices"][0]["text"]);
    EXPECT_EQ(post(c, "/v1/completions", {{"prompt", "I"}, {"state", "state-999"}}, &status)["error"]["code"], "state_not_found");
    EXPECT_EQ(status, 404);
    r = c.Post("/v1/states", "not a state", "application/octet-stream");
    EXPECT_EQ(r->status, 400);

    // An official state-tuning file (blocks.N.att.time_state, as RWKV-PEFT saves it) is a state too: here the
    // att_kv of the state after "KING:\n".
    const StateShape sh = s.model().state_shape();
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (int64_t l = 0; l < sh.n_layer; ++l) {
        Tensor t;
        t.shape = {sh.n_head, sh.head_size, sh.head_size};
        t.data.assign(st.att(l), st.att(l) + sh.att_floats());
        tensors.emplace_back("blocks." + std::to_string(l) + ".att.time_state", std::move(t));
    }
    const std::string path = std::string(RWKV_BINARY_DIR) + "/test-tmp-time_state.pth";
    save_pth(path, tensors, DType::F32);
    std::ifstream in(path, std::ios::binary);
    const std::string tuned((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::remove(path.c_str());
    r = c.Post("/v1/states", tuned, "application/octet-stream");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json from_tuned = post(c, "/v1/completions",
                                 {{"prompt", "I"}, {"max_tokens", 5}, {"temperature", 0}, {"state", json::parse(r->body)["id"]}}, &status);
    EXPECT_EQ(status, 200);
    EXPECT_EQ(from_tuned["choices"][0]["finish_reason"], "length");
    // One with a layer missing names it.
    tensors.pop_back();
    save_pth(path, tensors, DType::F32);
    std::ifstream in2(path, std::ios::binary);
    const std::string short_one((std::istreambuf_iterator<char>(in2)), std::istreambuf_iterator<char>());
    std::remove(path.c_str());
    r = c.Post("/v1/states", short_one, "application/octet-stream");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find("att.time_state"), std::string::npos) << r->body;
}

TEST(Server, HealthModelsMetricsAndThePage) {
    Running s;
    auto c = s.client();
    EXPECT_EQ(json::parse(c.Get("/health")->body)["status"], "ok");
    const json models = json::parse(c.Get("/v1/models")->body);
    EXPECT_EQ(models["data"][0]["id"], "shakespeare");
    int status = 0;
    post(c, "/v1/completions", {{"prompt", "A"}, {"max_tokens", 5}}, &status);
    const std::string m = c.Get("/metrics")->body;
    for (const char* name : {"rwkv_generated_tokens_total 5", "rwkv_queue_length 0", "rwkv_active_sequences",
                             "rwkv_state_cache_hits_total", "rwkv_state_cache_bytes", "rwkv_generated_tokens_per_second",
                             "rwkv_requests_total{endpoint=\"completions\"} 1"})
        EXPECT_NE(m.find(name), std::string::npos) << name << "\n" << m;
    auto page = c.Get("/");
    EXPECT_EQ(page->status, 200);
    EXPECT_NE(page->body.find("/v1/chat/completions"), std::string::npos);
}

}  // namespace
}  // namespace rwkv::serve
