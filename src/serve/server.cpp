#include "serve/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "serve/api.h"

namespace rwkv::serve {

using json = nlohmann::ordered_json;  // objects keep their order: a schema's properties, a reply's fields
using Clock = std::chrono::steady_clock;

namespace {

// What the log line of the request this thread is answering needs (httplib answers a request on one thread,
// from the pre-routing handler through the logger).
struct RequestLog {
    Clock::time_point start;
    int64_t tokens = 0;
};
thread_local RequestLog t_log;

void send_error(httplib::Response& res, const ApiError& e) {
    res.status = e.status;
    res.set_content(e.body().dump(), "application/json");
}

bool write(httplib::DataSink& sink, const std::string& s) { return sink.write(s.data(), s.size()); }

}  // namespace

// httplib listens with a backlog of 5: more clients connecting at once than that were refused. The listening
// socket is protected in httplib::Server; this gives it to bind() to listen again with a deeper backlog.
class HttpServer : public httplib::Server {
public:
    int socket() const { return static_cast<int>(svr_sock_); }
};

struct Server::Impl {
    Impl(const Model& m, const Tokenizer& t, Scheduler& s, ServerOptions o)
        : model(m), tokenizer(t), scheduler(s), options(std::move(o)), states(options.max_states),
          context{model, tokenizer, states, options.model_id, options.max_tokens_limit, scheduler.options().parallel} {}

    void routes();
    void generate(Endpoint endpoint, const httplib::Request& req, httplib::Response& res);
    std::string metrics() const;
    void count(int status) {
        std::lock_guard<std::mutex> lock(counts_mu);
        ++status_counts[status];
    }

    const Model& model;
    const Tokenizer& tokenizer;
    Scheduler& scheduler;
    ServerOptions options;
    StateStore states;
    ApiContext context;
    HttpServer http;
    mutable std::mutex counts_mu;
    std::map<int, uint64_t> status_counts;
    std::map<std::string, uint64_t> endpoint_counts;
    std::atomic<int> in_flight{0};  // generation responses being written
};

Server::Server(const Model& model, const Tokenizer& tokenizer, Scheduler& scheduler, ServerOptions options)
    : impl_(std::make_unique<Impl>(model, tokenizer, scheduler, std::move(options))) {
    impl_->routes();
}

Server::~Server() = default;

void Server::bind() {
    HttpServer& http = impl_->http;
    const ServerOptions& o = impl_->options;
    const int threads = o.http_threads > 0 ? o.http_threads
                                           : impl_->scheduler.options().parallel +
                                                 static_cast<int>(impl_->scheduler.options().max_queue) + 8;
    http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    // A state upload may be larger than a JSON request; generate() holds those to max_body_bytes itself.
    http.set_payload_max_length(std::max(o.max_body_bytes, State::max_file_bytes(impl_->model)));
    http.set_read_timeout(30, 0);
    http.set_write_timeout(30, 0);
    if (o.port == 0) {
        port_ = http.bind_to_any_port(o.host);
        if (port_ <= 0) throw Error(o.host + ": cannot bind any port");
    } else {
        if (!http.bind_to_port(o.host, o.port))
            throw Error(o.host + ":" + std::to_string(o.port) + ": cannot bind (in use, or not an address of this machine)");
        port_ = o.port;
    }
    ::listen(http.socket(), SOMAXCONN);
}

void Server::run() { impl_->http.listen_after_bind(); }

void Server::drain(std::chrono::milliseconds timeout) {
    const auto until = Clock::now() + timeout;
    while (impl_->in_flight.load() > 0 && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

void Server::stop() { impl_->http.stop(); }

void Server::Impl::routes() {
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        t_log = {Clock::now(), 0};
        const bool guarded = req.path.rfind("/v1/", 0) == 0 || req.path == "/metrics";
        if (guarded && !options.api_key.empty() && req.get_header_value("Authorization") != "Bearer " + options.api_key) {
            send_error(res, ApiError(401, "a valid API key is required (Authorization: Bearer KEY)",
                                     "invalid_request_error", "", "invalid_api_key"));
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });
    // Errors httplib answers itself (no route, a body over the limit, a request it cannot parse) get the same
    // JSON as the API's own.
    http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string message = res.status == 404   ? "no route for " + req.method + " " + req.path
                              : res.status == 413 ? "the request body is larger than this server accepts"
                                                  : "the request could not be read";
        send_error(res, ApiError(res.status, message));
        return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
            std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        send_error(res, ApiError(500, what, "server_error"));
    });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
        count(res.status);
        if (!options.log_requests) return;
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t_log.start).count();
        std::fprintf(stderr, "%s %s %d tokens=%lld ms=%.0f\n", req.method.c_str(), printable(req.path).c_str(),
                     res.status, static_cast<long long>(t_log.tokens), ms);
    });

    http.Get("/health", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(R"({"status":"ok"})", "application/json");
    });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
        const json body = {{"object", "list"},
                           {"data", json::array({{{"id", options.model_id},
                                                  {"object", "model"},
                                                  {"created", 0},
                                                  {"owned_by", "rwkv"}}})}};
        res.set_content(body.dump(), "application/json");
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics(), "text/plain; version=0.0.4");
    });
    http.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content(kChatPage, "text/html; charset=utf-8"); });
    http.Post("/v1/completions",
              [this](const httplib::Request& req, httplib::Response& res) { generate(Endpoint::Completions, req, res); });
    http.Post("/v1/chat/completions",
              [this](const httplib::Request& req, httplib::Response& res) { generate(Endpoint::Chat, req, res); });
    http.Post("/v1/states", [this](const httplib::Request& req, httplib::Response& res) {
        try {
            const std::vector<uint8_t> bytes(req.body.begin(), req.body.end());
            State state;
            try {
                state = State::from_bytes(bytes, model, "the uploaded state");
            } catch (const Error& e) {
                throw ApiError(400, e.what(), "invalid_request_error", "file");
            }
            const std::string id = states.add(std::move(state));
            res.set_content(json({{"id", id}, {"object", "state"}, {"bytes", bytes.size()}}).dump(), "application/json");
        } catch (const ApiError& e) {
            send_error(res, e);
        }
    });
}

void Server::Impl::generate(Endpoint endpoint, const httplib::Request& req, httplib::Response& res) {
    ApiRequest request;
    std::shared_ptr<Job> job;
    try {
        if (req.body.size() > options.max_body_bytes)
            throw ApiError(413, "the request body is " + std::to_string(req.body.size()) + " bytes; this server accepts " +
                                    std::to_string(options.max_body_bytes));
        json body;
        try {
            body = json::parse(req.body);
        } catch (const json::exception& e) {
            throw ApiError(400, std::string("the request body is not valid JSON: ") + e.what());
        }
        request = parse_request(endpoint, body, context);
        try {
            job = scheduler.submit(request.job);
        } catch (const Error& e) {
            const bool full = std::string(e.what()).find("queue is full") != std::string::npos;
            const bool stopping = std::string(e.what()).find("shutting down") != std::string::npos;
            throw ApiError(full ? 429 : stopping ? 503 : 400, e.what(), full ? "rate_limit_error" : "invalid_request_error");
        }
    } catch (const ApiError& e) {
        send_error(res, e);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(counts_mu);
        ++endpoint_counts[endpoint == Endpoint::Chat ? "chat" : "completions"];
    }
    auto reply = std::make_shared<Reply>(request, options.model_id, static_cast<int64_t>(request.job.prompt.size()));
    const bool stream = request.stream, usage = request.include_usage;
    // A client that goes away makes a write fail: its job is cancelled, and its sequences leave at the next step.
    ++in_flight;
    const auto release = [this, job](bool success) {
        if (!success) job->cancel();
        --in_flight;
    };
    if (stream) {
        res.set_header("Cache-Control", "no-cache");
        res.set_chunked_content_provider(
            "text/event-stream",
            [job, reply, usage](size_t, httplib::DataSink& sink) {
                JobEvent e;
                if (!job->next(e, std::chrono::seconds(1))) {
                    if (write(sink, ": waiting\n\n")) return true;  // also finds out whether the client is still there
                    job->cancel();
                    return false;
                }
                for (const json& chunk : reply->stream(e))
                    if (!write(sink, "data: " + chunk.dump() + "\n\n")) {
                        job->cancel();
                        return false;
                    }
                t_log.tokens = reply->completion_tokens();
                if (reply->done()) {
                    if (usage && !write(sink, "data: " + reply->usage_chunk().dump() + "\n\n")) return false;
                    if (!write(sink, "data: [DONE]\n\n")) return false;
                    sink.done();
                }
                return true;
            },
            release);
        return;
    }
    // Whole: the JSON once every choice has finished; until then a space now and then (JSON allows leading
    // white space), which keeps the connection alive and finds out whether the client is still there.
    res.set_chunked_content_provider(
        "application/json",
        [job, reply](size_t, httplib::DataSink& sink) {
            JobEvent e;
            const auto give_up = Clock::now() + std::chrono::seconds(2);
            while (!reply->done()) {
                if (!job->next(e, std::chrono::milliseconds(200))) {
                    if (Clock::now() < give_up) continue;
                    if (write(sink, " ")) return true;
                    job->cancel();
                    return false;
                }
                reply->add(e);
            }
            t_log.tokens = reply->completion_tokens();
            if (!write(sink, reply->response().dump())) return false;
            sink.done();
            return true;
        },
        release);
}

std::string Server::Impl::metrics() const {
    const SchedulerStats s = scheduler.stats();
    std::string out;
    const auto metric = [&](const char* name, const char* type, const char* help, const std::string& samples) {
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + samples;
    };
    const auto one = [](const char* name, double v) {
        char buf[128];
        std::snprintf(buf, sizeof buf, "%s %.17g\n", name, v);
        return std::string(buf);
    };
    std::string by_endpoint, by_status;
    {
        std::lock_guard<std::mutex> lock(counts_mu);
        for (const auto& [e, n] : endpoint_counts)
            by_endpoint += "rwkv_requests_total{endpoint=\"" + e + "\"} " + std::to_string(n) + "\n";
        for (const auto& [st, n] : status_counts)
            by_status += "rwkv_http_responses_total{status=\"" + std::to_string(st) + "\"} " + std::to_string(n) + "\n";
    }
    metric("rwkv_requests_total", "counter", "Generation requests accepted, by endpoint.", by_endpoint);
    metric("rwkv_http_responses_total", "counter", "HTTP responses, by status.", by_status);
    metric("rwkv_prompt_tokens_total", "counter", "Prompt tokens of accepted requests.",
           one("rwkv_prompt_tokens_total", static_cast<double>(s.prompt_tokens)));
    metric("rwkv_prompt_tokens_computed_total", "counter", "Prompt tokens the model read (the rest came from the state cache).",
           one("rwkv_prompt_tokens_computed_total", static_cast<double>(s.computed_prompt_tokens)));
    metric("rwkv_generated_tokens_total", "counter", "Tokens generated.",
           one("rwkv_generated_tokens_total", static_cast<double>(s.generated_tokens)));
    metric("rwkv_generated_tokens_per_second", "gauge", "Tokens generated per second over the last 10 seconds.",
           one("rwkv_generated_tokens_per_second", s.tokens_per_s));
    metric("rwkv_steps_total", "counter", "Model steps run (each advances every active sequence).",
           one("rwkv_steps_total", static_cast<double>(s.steps)));
    metric("rwkv_queue_length", "gauge", "Requests waiting for a free sequence.", one("rwkv_queue_length", static_cast<double>(s.queued)));
    metric("rwkv_active_sequences", "gauge", "Sequences being generated or reading their prompt.",
           one("rwkv_active_sequences", static_cast<double>(s.active)));
    metric("rwkv_state_cache_hits_total", "counter", "Prompts that resumed from a cached state.",
           one("rwkv_state_cache_hits_total", static_cast<double>(s.cache.hits)));
    metric("rwkv_state_cache_misses_total", "counter", "Prompts read from the start.",
           one("rwkv_state_cache_misses_total", static_cast<double>(s.cache.misses)));
    metric("rwkv_state_cache_bytes", "gauge", "Memory the state cache holds.", one("rwkv_state_cache_bytes", static_cast<double>(s.cache.bytes)));
    metric("rwkv_state_cache_entries", "gauge", "States the cache holds.", one("rwkv_state_cache_entries", static_cast<double>(s.cache.entries)));
    return out;
}

}  // namespace rwkv::serve
