#pragma once
// OpenAI's API shapes: a completions or chat request's JSON into a scheduler job (every field checked, errors
// in OpenAI's error object), and the job's events into the response — one JSON object, or server-sent event
// chunks as OpenAI streams them.
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rwkv/chat_format.h"
#include "rwkv/error.h"
#include "rwkv/model.h"
#include "rwkv/tokenizer.h"
#include "serve/scheduler.h"

namespace rwkv::serve {

// A request the API refuses: the HTTP status and OpenAI's error object ({"error": {message, type, param,
// code}}).
class ApiError : public Error {
public:
    ApiError(int status, const std::string& message, std::string type = "invalid_request_error", std::string param = {},
             std::string code = {})
        : Error(message), status(status), type(std::move(type)), param(std::move(param)), code(std::move(code)) {}
    nlohmann::ordered_json body() const;

    int status;
    std::string type, param, code;
};

enum class Endpoint { Completions, Chat };

// States uploaded with POST /v1/states, by id, as a request's "state" names them.
class StateStore {
public:
    explicit StateStore(size_t max_states) : max_states_(max_states) {}
    // Keeps the state; returns its id. ApiError 413 when the store is full.
    std::string add(State state);
    // The state and the cache's name for it; ApiError 404 for an unknown id.
    std::pair<std::shared_ptr<const State>, uint64_t> get(const std::string& id) const;

private:
    size_t max_states_;
    mutable std::mutex mu_;
    std::vector<std::pair<std::string, std::shared_ptr<const State>>> states_;
    uint64_t next_ = 1;
};

// What the API needs to know of the server.
struct ApiContext {
    const Model& model;
    const Tokenizer& tokenizer;
    const StateStore& states;
    std::string model_id;      // the name /v1/models lists and requests must use
    int64_t max_tokens_limit;  // the most tokens a request may ask for
    int parallel;              // the most choices (n) a request may ask for
};

struct ApiRequest {
    Endpoint endpoint = Endpoint::Completions;
    JobParams job;
    bool stream = false, include_usage = false;
    ThinkMode think = ThinkMode::Plain;
    // The reply is the tool-call JSON the grammar holds it to ({"tool_calls": [...]} or {"response": ...}), turned
    // into OpenAI's tool_calls or content when it ends.
    bool tools = false;
};

// The request's JSON body into a job; ApiError naming the field at fault.
ApiRequest parse_request(Endpoint endpoint, const nlohmann::ordered_json& body, const ApiContext& context);

// The response, built from the job's events as they come.
class Reply {
public:
    Reply(const ApiRequest& request, std::string model_id, int64_t prompt_tokens);

    // Streaming: the chunks (each a "data: …" payload) this event makes; the first call also gives the
    // opening chunks (a chat reply's role).
    std::vector<nlohmann::ordered_json> stream(const JobEvent& event);
    // The final chunk with the usage, when the request asked for it (stream_options.include_usage).
    nlohmann::ordered_json usage_chunk() const;
    // Not streaming: takes the event in.
    void add(const JobEvent& event);
    // Every choice has finished.
    bool done() const { return finished_ == static_cast<int>(choices_.size()); }
    // The whole response, once done().
    nlohmann::ordered_json response() const;
    int64_t completion_tokens() const;

private:
    struct Choice {
        ReplySplitter split;
        std::string reasoning, content;
        std::string finish_reason;
        int64_t tokens = 0;
        bool opened = false;
        nlohmann::ordered_json tool_calls;  // OpenAI's tool_calls, once a tool reply has ended with some
    };
    // A tool reply's text into its content or tool calls, and the finish reason that goes with it.
    void settle_tools(Choice& c);
    nlohmann::ordered_json envelope(const char* object) const;
    nlohmann::ordered_json delta_chunk(int index, const std::string& reasoning, const std::string& content,
                               const std::string& finish_reason) const;

    Endpoint endpoint_;
    bool tools_;
    std::string id_, model_id_;
    int64_t created_, prompt_tokens_;
    std::vector<Choice> choices_;
    int finished_ = 0;
};

}  // namespace rwkv::serve
