#include "serve/api.h"

#include <cmath>
#include <ctime>
#include <random>

namespace rwkv::serve {

using nlohmann::json;

json ApiError::body() const {
    return {{"error",
             {{"message", what()},
              {"type", type},
              {"param", param.empty() ? json(nullptr) : json(param)},
              {"code", code.empty() ? json(nullptr) : json(code)}}}};
}

std::string StateStore::add(State state) {
    std::lock_guard<std::mutex> lock(mu_);
    if (states_.size() >= max_states_)
        throw ApiError(413, "the server already holds " + std::to_string(max_states_) + " uploaded states");
    const std::string id = "state-" + std::to_string(next_++);
    states_.emplace_back(id, std::make_shared<const State>(std::move(state)));
    return id;
}

std::pair<std::shared_ptr<const State>, uint64_t> StateStore::get(const std::string& id) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < states_.size(); ++i)
        if (states_[i].first == id) return {states_[i].second, std::stoull(id.substr(6))};
    throw ApiError(404, "no uploaded state '" + id + "'", "invalid_request_error", "state", "state_not_found");
}

namespace {

// Field readers: absent or null leaves the default; anything else must have the right type and range.
const json* field(const json& body, const char* name) {
    const auto it = body.find(name);
    return it == body.end() || it->is_null() ? nullptr : &*it;
}

[[noreturn]] void bad(const std::string& name, const std::string& what) {
    throw ApiError(400, "'" + name + "' " + what, "invalid_request_error", name);
}

void read_number(const json& body, const char* name, float& out, double lo, double hi) {
    const json* v = field(body, name);
    if (!v) return;
    if (!v->is_number()) bad(name, "must be a number");
    const double d = v->get<double>();
    if (!std::isfinite(d) || d < lo || d > hi)
        bad(name, "is " + v->dump() + "; it must lie in [" + json(lo).dump() + ", " + json(hi).dump() + "]");
    out = static_cast<float>(d);
}

int64_t read_int(const json& body, const char* name, int64_t fallback, int64_t lo, int64_t hi) {
    const json* v = field(body, name);
    if (!v) return fallback;
    if (!v->is_number_integer()) bad(name, "must be an integer");
    const int64_t i = v->get<int64_t>();
    if (i < lo || i > hi) bad(name, "is " + std::to_string(i) + "; it must lie in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return i;
}

bool read_bool(const json& body, const char* name, bool fallback) {
    const json* v = field(body, name);
    if (!v) return fallback;
    if (!v->is_boolean()) bad(name, "must be true or false");
    return v->get<bool>();
}

std::vector<int32_t> token_list(const json& v, const std::string& name, int64_t n_vocab) {
    std::vector<int32_t> ids;
    for (const json& t : v) {
        if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= n_vocab)
            bad(name, "holds " + t.dump() + ", which is not a token id of this model (0 to " + std::to_string(n_vocab - 1) + ")");
        ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
    }
    return ids;
}

// A message's content: a string, or an array of parts of which the text ones count.
std::string message_text(const json& content, const std::string& name) {
    if (content.is_null()) return {};
    if (content.is_string()) return content.get<std::string>();
    if (!content.is_array()) bad(name, "must be a string or an array of content parts");
    std::string text;
    for (const json& part : content) {
        if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
            bad(name, "holds a part without a type");
        if (part["type"] != "text") bad(name, "holds a '" + part["type"].get<std::string>() + "' part; only text parts are supported");
        if (!part.contains("text") || !part["text"].is_string()) bad(name, "holds a text part without text");
        text += part["text"].get<std::string>();
    }
    return text;
}

void read_prompt(const json& body, const ApiContext& ctx, ApiRequest& r) {
    const json* p = field(body, "prompt");
    const int64_t V = ctx.model.info().n_vocab;
    if (!p) bad("prompt", "is required");
    if (p->is_string()) {
        r.job.prompt = ctx.tokenizer.encode(p->get<std::string>());
    } else if (p->is_array() && !p->empty() && (*p)[0].is_number_integer()) {
        r.job.prompt = token_list(*p, "prompt", V);
    } else if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) {
        r.job.prompt = ctx.tokenizer.encode((*p)[0].get<std::string>());
    } else if (p->is_array() && p->size() == 1 && (*p)[0].is_array()) {
        r.job.prompt = token_list((*p)[0], "prompt", V);
    } else if (p->is_array() && p->size() > 1) {
        bad("prompt", "holds several prompts; send one per request");
    } else if (!p->is_array()) {
        bad("prompt", "must be a string or an array of token ids");
    }
    // Nothing to condition on: documents start after the end-of-text token.
    if (r.job.prompt.empty()) r.job.prompt.push_back(ctx.tokenizer.eos_id());
}

void read_messages(const json& body, const ApiContext& ctx, ApiRequest& r) {
    const json* m = field(body, "messages");
    if (!m) bad("messages", "is required");
    if (!m->is_array() || m->empty()) bad("messages", "must be a non-empty array");
    if (const json* t = field(body, "think")) {
        if (!t->is_boolean()) bad("think", "must be true or false");
        r.think = t->get<bool>() ? ThinkMode::Think : ThinkMode::NoThink;
    }
    // Turn by turn, so a turn's tokens do not depend on what follows it: the state after the last message is
    // kept, and the next request of the conversation, which repeats these turns, resumes from it.
    for (size_t i = 0; i < m->size(); ++i) {
        const json& msg = (*m)[i];
        const std::string name = "messages[" + std::to_string(i) + "]";
        if (!msg.is_object()) bad(name, "must be an object");
        if (!msg.contains("role") || !msg["role"].is_string()) bad(name + ".role", "must be a string");
        ChatMessage cm{msg["role"].get<std::string>(), message_text(msg.value("content", json()), name + ".content")};
        std::string turn;
        try {
            turn = chat_turn(cm);
        } catch (const Error& e) {
            bad(name + ".role", std::string("is not known: ") + e.what());
        }
        const std::vector<int32_t> ids = ctx.tokenizer.encode(turn);
        r.job.prompt.insert(r.job.prompt.end(), ids.begin(), ids.end());
    }
    r.job.cache_at.push_back(r.job.prompt.size());
    const std::vector<int32_t> opening = ctx.tokenizer.encode(chat_opening(r.think));
    r.job.prompt.insert(r.job.prompt.end(), opening.begin(), opening.end());
    r.job.stop = chat_stops();
}

void read_stop(const json& body, ApiRequest& r) {
    const json* s = field(body, "stop");
    if (!s) return;
    if (s->is_string()) {
        r.job.stop.push_back(s->get<std::string>());
        return;
    }
    if (!s->is_array() || s->size() > 16) bad("stop", "must be a string or an array of at most 16 strings");
    for (const json& x : *s) {
        if (!x.is_string()) bad("stop", "must hold strings");
        r.job.stop.push_back(x.get<std::string>());
    }
}

void read_logit_bias(const json& body, int64_t n_vocab, ApiRequest& r) {
    const json* b = field(body, "logit_bias");
    if (!b) return;
    if (!b->is_object()) bad("logit_bias", "must be an object of token id to bias");
    for (const auto& [key, value] : b->items()) {
        size_t used = 0;
        long long id = -1;
        try {
            id = std::stoll(key, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != key.size() || id < 0 || id >= n_vocab) bad("logit_bias", "has key '" + key + "', not a token id of this model");
        if (!value.is_number() || !std::isfinite(value.get<double>()) || std::fabs(value.get<double>()) > 100)
            bad("logit_bias", "values must be numbers from -100 to 100");
        r.job.logit_bias.emplace_back(static_cast<int32_t>(id), value.get<float>());
    }
}

}  // namespace

ApiRequest parse_request(Endpoint endpoint, const json& body, const ApiContext& ctx) {
    if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object");
    ApiRequest r;
    r.endpoint = endpoint;
    if (const json* m = field(body, "model")) {
        if (!m->is_string()) bad("model", "must be a string");
        if (m->get<std::string>() != ctx.model_id)
            throw ApiError(404, "the model '" + m->get<std::string>() + "' does not exist; this server has '" + ctx.model_id + "'",
                           "invalid_request_error", "model", "model_not_found");
    }
    if (endpoint == Endpoint::Chat)
        read_messages(body, ctx, r);
    else
        read_prompt(body, ctx, r);
    for (const char* unsupported : {"tools", "tool_choice", "response_format", "functions", "function_call"})
        if (const json* v = field(body, unsupported);
            v && !(v->is_string() && (*v == "none" || *v == "auto")) && !(v->is_array() && v->empty()) &&
            !(v->is_object() && v->value("type", "") == "text"))
            bad(unsupported, "is not supported by this server yet");
    if (read_bool(body, "logprobs", false) || field(body, "top_logprobs")) bad("logprobs", "are not supported");
    if (field(body, "echo") && read_bool(body, "echo", false)) bad("echo", "is not supported");

    SamplerParams& s = r.job.sampling;
    s.temperature = 1.0f;
    s.top_p = 1.0f;
    read_number(body, "temperature", s.temperature, 0, 100);
    read_number(body, "top_p", s.top_p, 1e-9, 1);
    s.top_k = static_cast<int>(read_int(body, "top_k", 0, 0, ctx.model.info().n_vocab));
    read_number(body, "min_p", s.min_p, 0, 1);
    read_number(body, "presence_penalty", s.presence_penalty, -2, 2);
    read_number(body, "frequency_penalty", s.frequency_penalty, -2, 2);
    read_number(body, "repetition_penalty", s.repetition_penalty, 1e-3, 100);
    read_number(body, "penalty_decay", s.penalty_decay, 0, 1);
    if (const json* seed = field(body, "seed")) {
        if (!seed->is_number_integer()) bad("seed", "must be an integer");
        s.seed = static_cast<uint64_t>(seed->get<int64_t>());
    } else {
        s.seed = std::random_device{}();
    }
    const int64_t fallback = endpoint == Endpoint::Completions ? 16 : ctx.max_tokens_limit;
    const char* tokens_field = endpoint == Endpoint::Chat && field(body, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    r.job.max_tokens = read_int(body, tokens_field, fallback, 0, INT64_MAX);
    if (r.job.max_tokens > ctx.max_tokens_limit)
        bad(tokens_field, "is " + std::to_string(r.job.max_tokens) + ", more than this server's limit of " +
                              std::to_string(ctx.max_tokens_limit));
    r.job.n = static_cast<int>(read_int(body, "n", 1, 1, ctx.parallel));
    read_stop(body, r);
    read_logit_bias(body, ctx.model.info().n_vocab, r);
    r.job.stop_at_eos = !read_bool(body, "ignore_eos", false);  // llama.cpp's server's extension, for benchmarks
    r.stream = read_bool(body, "stream", false);
    if (const json* o = field(body, "stream_options")) {
        if (!o->is_object()) bad("stream_options", "must be an object");
        r.include_usage = read_bool(*o, "include_usage", false);
    }
    if (const json* id = field(body, "state")) {
        if (!id->is_string()) bad("state", "must be the id an upload to /v1/states returned");
        std::tie(r.job.initial, r.job.origin) = ctx.states.get(id->get<std::string>());
    }
    return r;
}

Reply::Reply(const ApiRequest& request, std::string model_id, int64_t prompt_tokens)
    : endpoint_(request.endpoint),
      id_((request.endpoint == Endpoint::Chat ? "chatcmpl-" : "cmpl-") + std::to_string(std::random_device{}()) +
          std::to_string(std::time(nullptr))),
      model_id_(std::move(model_id)),
      created_(static_cast<int64_t>(std::time(nullptr))),
      prompt_tokens_(prompt_tokens) {
    for (int i = 0; i < request.job.n; ++i)
        choices_.push_back({ReplySplitter(request.endpoint == Endpoint::Chat ? request.think : ThinkMode::Plain), {}, {}, {}, 0, false});
}

namespace {
// A job cut short by the server (shutting down) ends as if it had reached its length.
std::string finish_reason(const std::string& scheduler_reason) {
    return scheduler_reason == "cancelled" ? "length" : scheduler_reason;
}
}  // namespace

json Reply::envelope(const char* object) const {
    return {{"id", id_}, {"object", object}, {"created", created_}, {"model", model_id_}};
}

json Reply::delta_chunk(int index, const std::string& reasoning, const std::string& content,
                        const std::string& finish) const {
    json chunk = envelope(endpoint_ == Endpoint::Chat ? "chat.completion.chunk" : "text_completion");
    json choice = {{"index", index}, {"logprobs", nullptr}, {"finish_reason", finish.empty() ? json(nullptr) : json(finish)}};
    if (endpoint_ == Endpoint::Chat) {
        json delta = json::object();
        if (!reasoning.empty()) delta["reasoning_content"] = reasoning;
        if (!content.empty()) delta["content"] = content;
        choice["delta"] = delta;
    } else {
        choice["text"] = content;
    }
    chunk["choices"] = json::array({choice});
    return chunk;
}

std::vector<json> Reply::stream(const JobEvent& e) {
    std::vector<json> out;
    Choice& c = choices_[static_cast<size_t>(e.choice)];
    if (endpoint_ == Endpoint::Chat && !c.opened) {
        json first = delta_chunk(e.choice, "", "", "");
        first["choices"][0]["delta"] = {{"role", "assistant"}, {"content", ""}};
        out.push_back(first);
    }
    c.opened = true;
    c.tokens = e.tokens;
    ReplySplitter::Parts parts;
    if (endpoint_ == Endpoint::Chat)
        parts = e.finished ? c.split.flush() : c.split.push(e.text);
    else
        parts.content = e.text;
    if (!parts.reasoning.empty() || !parts.content.empty())
        out.push_back(delta_chunk(e.choice, parts.reasoning, parts.content, ""));
    c.reasoning += parts.reasoning;
    c.content += parts.content;
    if (e.finished) {
        c.finish_reason = finish_reason(e.finish_reason);
        ++finished_;
        out.push_back(delta_chunk(e.choice, "", "", c.finish_reason));
    }
    return out;
}

void Reply::add(const JobEvent& e) { stream(e); }

int64_t Reply::completion_tokens() const {
    int64_t n = 0;
    for (const Choice& c : choices_) n += c.tokens;
    return n;
}

json Reply::usage_chunk() const {
    json chunk = envelope(endpoint_ == Endpoint::Chat ? "chat.completion.chunk" : "text_completion");
    chunk["choices"] = json::array();
    chunk["usage"] = response()["usage"];
    return chunk;
}

json Reply::response() const {
    json out = envelope(endpoint_ == Endpoint::Chat ? "chat.completion" : "text_completion");
    json choices = json::array();
    for (size_t i = 0; i < choices_.size(); ++i) {
        const Choice& c = choices_[i];
        json choice = {{"index", i}, {"logprobs", nullptr}, {"finish_reason", c.finish_reason}};
        if (endpoint_ == Endpoint::Chat) {
            json message = {{"role", "assistant"}, {"content", c.content}};
            if (!c.reasoning.empty()) message["reasoning_content"] = c.reasoning;
            choice["message"] = message;
        } else {
            choice["text"] = c.content;
        }
        choices.push_back(choice);
    }
    out["choices"] = choices;
    const int64_t completion = completion_tokens();
    out["usage"] = {{"prompt_tokens", prompt_tokens_},
                    {"completion_tokens", completion},
                    {"total_tokens", prompt_tokens_ + completion}};
    return out;
}

}  // namespace rwkv::serve
