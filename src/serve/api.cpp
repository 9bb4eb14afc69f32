#include "serve/api.h"

#include <cmath>
#include <ctime>
#include <random>

namespace rwkv::serve {

using json = nlohmann::ordered_json;  // objects keep their order: a schema's properties, a reply's fields

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

// response_format: text (nothing), json_object (any object) or json_schema (its schema); the schema's value
// grammar, or null for text.
const json* response_schema(const json& body, json& any_object) {
    const json* f = field(body, "response_format");
    if (!f) return nullptr;
    if (!f->is_object() || !f->contains("type") || !(*f)["type"].is_string())
        bad("response_format", "must be an object with a type (text, json_object or json_schema)");
    const std::string type = (*f)["type"].get<std::string>();
    if (type == "text") return nullptr;
    if (type == "json_object") {
        any_object = {{"type", "object"}};
        return &any_object;
    }
    if (type != "json_schema") bad("response_format", "has type '" + type + "'; it must be text, json_object or json_schema");
    const json* js = field(*f, "json_schema");
    if (!js || !js->is_object()) bad("response_format", "of type json_schema needs a json_schema object");
    const json* schema = field(*js, "schema");
    if (!schema) {
        any_object = json::object();  // OpenAI: no schema, any JSON
        return &any_object;
    }
    return schema;
}

// A function tool's name, checked.
std::string tool_name(const json& tool, const std::string& name) {
    if (!tool.is_object() || tool.value("type", "") != "function" || !tool.contains("function") || !tool["function"].is_object())
        bad(name, "must be {\"type\": \"function\", \"function\": {...}}");
    const json& f = tool["function"];
    if (!f.contains("name") || !f["name"].is_string() || f["name"].get<std::string>().empty())
        bad(name + ".function.name", "must be a non-empty string");
    if (f.contains("parameters") && !f["parameters"].is_null() && !f["parameters"].is_object())
        bad(name + ".function.parameters", "must be a JSON schema object");
    return f["name"].get<std::string>();
}

// tools + tool_choice: the system turn that describes the tools, and the schema a reply must match:
// {"tool_calls": [{"name", "arguments"}, ...]} or, where the choice allows an answer, {"response": ...}.
// Returns false when no tool may be called (no tools, or tool_choice "none").
bool read_tools(const json& body, const json* response, std::string& described, json& schema) {
    const json* tools = field(body, "tools");
    const json* choice = field(body, "tool_choice");
    if (!tools) {
        if (choice && !(choice->is_string() && *choice == "none")) bad("tool_choice", "needs tools");
        return false;
    }
    if (!tools->is_array()) bad("tools", "must be an array");
    if (tools->empty()) return false;
    std::string mode = "auto", forced;
    if (choice) {
        if (choice->is_string()) {
            mode = choice->get<std::string>();
            if (mode != "auto" && mode != "none" && mode != "required")
                bad("tool_choice", "must be none, auto, required or a function");
        } else if (choice->is_object() && choice->value("type", "") == "function" && choice->contains("function") &&
                   (*choice)["function"].is_object() && (*choice)["function"].contains("name") &&
                   (*choice)["function"]["name"].is_string()) {
            mode = "function";
            forced = (*choice)["function"]["name"].get<std::string>();
        } else {
            bad("tool_choice", "must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\": ...}}");
        }
    }
    if (mode == "none") return false;
    const bool parallel = read_bool(body, "parallel_tool_calls", true);
    json calls = json::array();
    std::string listing;
    bool found = forced.empty();
    for (size_t i = 0; i < tools->size(); ++i) {
        const json& tool = (*tools)[i];
        const std::string name = tool_name(tool, "tools[" + std::to_string(i) + "]");
        const json& f = tool["function"];
        const json params = f.contains("parameters") && !f["parameters"].is_null() ? f["parameters"] : json{{"type", "object"}};
        json entry = {{"name", name}, {"parameters", params}};
        if (f.contains("description") && f["description"].is_string()) entry["description"] = f["description"];
        listing += entry.dump() + "\n";
        if (!forced.empty() && name != forced) continue;
        found = true;
        calls.push_back({{"type", "object"},
                         {"properties", {{"name", {{"const", name}}}, {"arguments", params}}},
                         {"required", {"name", "arguments"}},
                         {"additionalProperties", false}});
    }
    if (!found) bad("tool_choice", "names the function '" + forced + "', which is not among the tools");
    json call_list = {{"type", "array"}, {"items", {{"anyOf", calls}}}, {"minItems", 1}};
    if (!parallel || mode == "function") call_list["maxItems"] = 1;
    const json with_calls = {{"type", "object"},
                             {"properties", {{"tool_calls", call_list}}},
                             {"required", {"tool_calls"}},
                             {"additionalProperties", false}};
    if (mode == "auto") {
        const json answer = {{"type", "object"},
                             {"properties", {{"response", response ? *response : json{{"type", "string"}}}}},
                             {"required", {"response"}},
                             {"additionalProperties", false}};
        schema = {{"anyOf", {with_calls, answer}}};
    } else {
        schema = with_calls;
    }
    described = "You can call these functions (tools), described as JSON:\n" + listing +
                (mode == "auto" ? "Reply with JSON only: {\"tool_calls\": [{\"name\": ..., \"arguments\": {...}}]} to call "
                                  "tools, or {\"response\": ...} to answer the user directly."
                                : "Reply with JSON only: {\"tool_calls\": [{\"name\": ..., \"arguments\": {...}}]}.");
    return true;
}

// An assistant message's turn when tools are in use: what the model would have written.
std::string assistant_tool_text(const json& msg, const std::string& name, const std::string& content) {
    const json* calls = field(msg, "tool_calls");
    if (!calls) return json{{"response", content}}.dump();
    if (!calls->is_array()) bad(name + ".tool_calls", "must be an array");
    json out = json::array();
    for (size_t i = 0; i < calls->size(); ++i) {
        const json& c = (*calls)[i];
        const std::string cn = name + ".tool_calls[" + std::to_string(i) + "]";
        if (!c.is_object() || !c.contains("function") || !c["function"].is_object() || !c["function"].contains("name") ||
            !c["function"]["name"].is_string())
            bad(cn, "must be {\"id\": ..., \"type\": \"function\", \"function\": {\"name\": ..., \"arguments\": ...}}");
        json args = json::object();
        if (const json* a = field(c["function"], "arguments")) {
            if (!a->is_string()) bad(cn + ".function.arguments", "must be a string of JSON");
            args = json::parse(a->get<std::string>(), nullptr, false);
            if (args.is_discarded()) bad(cn + ".function.arguments", "is not JSON");
        }
        out.push_back({{"name", c["function"]["name"]}, {"arguments", args}});
    }
    return json{{"tool_calls", out}}.dump();
}

void read_messages(const json& body, const ApiContext& ctx, ApiRequest& r) {
    const json* m = field(body, "messages");
    if (!m) bad("messages", "is required");
    if (!m->is_array() || m->empty()) bad("messages", "must be a non-empty array");
    if (const json* t = field(body, "think")) {
        if (!t->is_boolean()) bad("think", "must be true or false");
        r.think = t->get<bool>() ? ThinkMode::Think : ThinkMode::NoThink;
    }
    json any_object, tools_schema;
    const json* response = response_schema(body, any_object);
    std::string described;
    r.tools = read_tools(body, response, described, tools_schema);
    if (r.tools) {
        r.job.prompt = ctx.tokenizer.encode(chat_turn({"system", described}));
        response = &tools_schema;
    }
    if (response) {
        try {
            r.job.grammar = json_schema_grammar(response->dump());
        } catch (const Error& e) {
            bad(r.tools ? "tools" : "response_format", std::string("cannot be enforced: ") + e.what());
        }
        if (r.think == ThinkMode::Think) r.think = ThinkMode::NoThink;  // a held reply starts with its JSON
    }
    // Turn by turn, so a turn's tokens do not depend on what follows it: the state after the last message is
    // kept, and the next request of the conversation, which repeats these turns, resumes from it.
    for (size_t i = 0; i < m->size(); ++i) {
        const json& msg = (*m)[i];
        const std::string name = "messages[" + std::to_string(i) + "]";
        if (!msg.is_object()) bad(name, "must be an object");
        if (!msg.contains("role") || !msg["role"].is_string()) bad(name + ".role", "must be a string");
        ChatMessage cm{msg["role"].get<std::string>(), message_text(msg.value("content", json()), name + ".content")};
        if (cm.role == "assistant" && (r.tools || field(msg, "tool_calls")))
            cm.content = assistant_tool_text(msg, name, cm.content);
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
    if (endpoint == Endpoint::Completions) {
        json any_object;
        if (const json* schema = response_schema(body, any_object)) {
            try {
                r.job.grammar = json_schema_grammar(schema->dump());
            } catch (const Error& e) {
                bad("response_format", std::string("cannot be enforced: ") + e.what());
            }
        }
        if (field(body, "tools")) bad("tools", "are for /v1/chat/completions");
    }
    for (const char* old : {"functions", "function_call"})
        if (field(body, old)) bad(old, "is OpenAI's deprecated form; send tools and tool_choice");
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
      tools_(request.tools),
      id_((request.endpoint == Endpoint::Chat ? "chatcmpl-" : "cmpl-") + std::to_string(std::random_device{}()) +
          std::to_string(std::time(nullptr))),
      model_id_(std::move(model_id)),
      created_(static_cast<int64_t>(std::time(nullptr))),
      prompt_tokens_(prompt_tokens) {
    for (int i = 0; i < request.job.n; ++i)
        choices_.push_back({ReplySplitter(request.endpoint == Endpoint::Chat ? request.think : ThinkMode::Plain), {}, {}, {}, 0, false, {}});
}

namespace {
// A job cut short by the server (shutting down) ends as if it had reached its length; one the model could not go
// on with (logits that are not numbers) ends with "error".
std::string finish_reason(const std::string& scheduler_reason) {
    if (scheduler_reason.rfind("error", 0) == 0) return "error";
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
    // A tool reply is JSON to be taken apart at its end, so it streams as one piece then.
    if (!tools_ && (!parts.reasoning.empty() || !parts.content.empty()))
        out.push_back(delta_chunk(e.choice, parts.reasoning, parts.content, ""));
    c.reasoning += parts.reasoning;
    c.content += parts.content;
    if (e.finished) {
        c.finish_reason = finish_reason(e.finish_reason);
        if (tools_) {
            settle_tools(c);
            json piece = delta_chunk(e.choice, c.reasoning, c.content, "");
            if (!c.tool_calls.is_null()) {
                json calls = c.tool_calls;
                for (size_t i = 0; i < calls.size(); ++i) calls[i]["index"] = i;
                piece["choices"][0]["delta"]["tool_calls"] = calls;
            }
            out.push_back(piece);
        }
        ++finished_;
        out.push_back(delta_chunk(e.choice, "", "", c.finish_reason));
    }
    return out;
}

void Reply::settle_tools(Choice& c) {
    // Held to the grammar, a reply that ended by itself always parses; one cut off at its length stays text.
    const json reply = json::parse(c.content, nullptr, false);
    if (reply.is_discarded() || !reply.is_object()) return;
    if (const auto calls = reply.find("tool_calls"); calls != reply.end() && calls->is_array()) {
        c.tool_calls = json::array();
        for (const json& call : *calls) {
            c.tool_calls.push_back({{"id", "call_" + std::to_string(std::random_device{}()) + std::to_string(c.tool_calls.size())},
                                    {"type", "function"},
                                    {"function", {{"name", call.value("name", "")}, {"arguments", call.value("arguments", json::object()).dump()}}}});
        }
        c.content.clear();
        if (c.finish_reason == "stop") c.finish_reason = "tool_calls";
    } else if (const auto answer = reply.find("response"); answer != reply.end()) {
        c.content = answer->is_string() ? answer->get<std::string>() : answer->dump();
    }
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
            json message = {{"role", "assistant"}, {"content", c.tool_calls.is_null() ? json(c.content) : json(nullptr)}};
            if (!c.tool_calls.is_null()) message["tool_calls"] = c.tool_calls;
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
