// rwkv serve: an OpenAI-compatible HTTP server that batches every conversation into one model step
// (src/serve). SIGTERM or SIGINT: stop accepting, let what runs finish for --grace seconds, cancel the rest,
// exit 0.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "commands.h"
#include "serve/scheduler.h"
#include "serve/server.h"

namespace rwkv::cli {

namespace {
struct ServeArgs {
    ModelOptions model;
    serve::ServerOptions server;
    serve::SchedulerOptions scheduler;
    int64_t cache_mb = 1024;
    double grace_s = 5;
};
}  // namespace

Runner add_serve(CLI::App& cmd) {
    auto a = std::make_shared<ServeArgs>();
    a->model.add_to(cmd);
    cmd.add_option("--host", a->server.host, "address to listen on")->capture_default_str();
    cmd.add_option("--port", a->server.port, "port (0: any free one)")->capture_default_str()->check(CLI::Range(0, 65535));
    cmd.add_option("--parallel", a->scheduler.parallel, "sequences generated together, in one step")
        ->capture_default_str()
        ->check(CLI::Range(1, 1024));
    cmd.add_option("--api-key", a->server.api_key, "require 'Authorization: Bearer KEY' on /v1/* and /metrics");
    cmd.add_option("--state-cache-mb", a->cache_mb, "memory for states kept for later turns (MiB)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd.add_option("--max-queue", a->scheduler.max_queue, "requests that may wait for a free sequence")
        ->capture_default_str();
    cmd.add_option("--max-tokens", a->server.max_tokens_limit, "the most tokens a request may ask for")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd.add_option("--max-body", a->server.max_body_bytes, "largest request body in bytes")->capture_default_str();
    cmd.add_option("--prompt-chunk", a->scheduler.prompt_chunk, "prompt tokens read per step, beside generation")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd.add_option("--name", a->server.model_id, "the model's name in the API (default: the file's name)");
    cmd.add_option("--grace", a->grace_s, "seconds running requests may finish after SIGTERM")->capture_default_str();
    cmd.add_flag("!--no-log", a->server.log_requests, "no line per request on stderr");
    return [a] {
        // Signals go to one thread that waits for them; every thread started from here inherits the mask.
        sigset_t signals;
        sigemptyset(&signals);
        sigaddset(&signals, SIGTERM);
        sigaddset(&signals, SIGINT);
        sigaddset(&signals, SIGUSR1);  // the server ending on its own, to release the waiting thread
        pthread_sigmask(SIG_BLOCK, &signals, nullptr);

        auto model = a->model.load();
        auto tokenizer = a->model.load_tokenizer(*model);
        if (a->server.model_id.empty() || a->server.model_id == "rwkv")
            a->server.model_id = std::filesystem::path(a->model.model).stem().string();
        a->scheduler.cache_bytes = static_cast<size_t>(a->cache_mb) << 20;
        serve::Scheduler scheduler(*model, *tokenizer, a->scheduler);
        serve::Server server(*model, *tokenizer, scheduler, a->server);
        server.bind();
        std::fprintf(stderr, "rwkv serve: %s on http://%s:%d (%d parallel, %d threads); chat page at /\n",
                     a->server.model_id.c_str(), a->server.host.c_str(), server.port(), a->scheduler.parallel,
                     model->threads());
        std::fflush(stderr);
        std::thread waiter([&] {
            int sig = 0;
            sigwait(&signals, &sig);
            if (sig == SIGUSR1) return;  // the server ended on its own
            std::fprintf(stderr, "rwkv serve: signal %d, stopping\n", sig);
            // New requests now get 503; running ones finish (or are cancelled after the grace) and their clients
            // get their last chunk before the socket closes.
            scheduler.shutdown(std::chrono::milliseconds(static_cast<int64_t>(a->grace_s * 1000)));
            server.drain(std::chrono::seconds(5));
            server.stop();
        });
        server.run();
        pthread_kill(waiter.native_handle(), SIGUSR1);
        waiter.join();
        scheduler.shutdown(std::chrono::milliseconds(0));
        return 0;
    };
}

}  // namespace rwkv::cli
