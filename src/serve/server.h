#pragma once
// The HTTP side of `rwkv serve`: OpenAI's endpoints over cpp-httplib, each request a scheduler job, errors as
// OpenAI's error JSON, a log line per request, Prometheus metrics, state uploads and the chat page.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "rwkv/model.h"
#include "rwkv/tokenizer.h"
#include "serve/scheduler.h"

namespace httplib {
class Server;
}

namespace rwkv::serve {

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 8080;                    // 0: any free port (port() tells which)
    std::string api_key;                // when set, /v1/* and /metrics need "Authorization: Bearer <key>"
    size_t max_body_bytes = size_t{8} << 20;
    int64_t max_tokens_limit = 4096;    // the most tokens one request may ask for (and a chat's default)
    std::string model_id = "rwkv";      // the model's name in /v1/models and in requests
    size_t max_states = 64;             // uploaded states kept
    int http_threads = 0;               // 0: enough for every running and queued request, plus a few
    bool log_requests = true;           // a line per request on stderr
};

class Server {
public:
    Server(const Model& model, const Tokenizer& tokenizer, Scheduler& scheduler, ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds the address; rwkv::Error naming it when that fails. Then port() is the port bound.
    void bind();
    int port() const { return port_; }
    // Serves until stop(); call after bind().
    void run();
    // Waits up to `timeout` for the generation responses being written to end (after the scheduler has finished
    // or cancelled their jobs, so that each client gets its last chunk).
    void drain(std::chrono::milliseconds timeout);
    // Closes the listening socket; run() returns. Responses still being written are cut off: drain() first.
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    int port_ = 0;
};

// The chat page served at /, from chat_page.html (compiled in).
extern const char* const kChatPage;

}  // namespace rwkv::serve
