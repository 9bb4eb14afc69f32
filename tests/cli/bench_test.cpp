// `rwkv bench` as other checks call it: one JSON object whose figures are present, positive and
// agree with each other. No speed is asserted: test machines differ and are shared.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/bandwidth.h"
#include "core/thread_pool.h"
#include "kernels/cpu_features.h"
#include "rwkv/error.h"
#include "cli/cli_run.h"
#include "test_paths.h"

namespace rwkv {
namespace {

using test::CliRun;

CliRun run_rwkv(const std::string& args) { return test::run_cli(args, "", "bench_run"); }

void expect_positive(const nlohmann::json& j, const char* key, const std::string& where) {
    ASSERT_TRUE(j.contains(key)) << where << ": no " << key;
    ASSERT_TRUE(j[key].is_number()) << where << ": " << key;
    EXPECT_GT(j[key].get<double>(), 0) << where << ": " << key;
}

void expect_close(double a, double b, const std::string& what) { EXPECT_NEAR(a, b, 1e-9 * std::max(1.0, std::fabs(b))) << what; }

TEST(Bench, PrintsConsistentFiguresForEachModel) {
    const std::string models[] = {test::shared("testdata/rwkvcpp-tiny/tiny-rwkv-7v0-834K-FP32.bin"),
                                  test::shared("testdata/reference/v4/model.pth")};
    for (const auto& path : models) {
        const CliRun r = run_rwkv("bench -m '" + path + "' --gen-tokens 8 --prompt-tokens 40 -t 2");
        ASSERT_EQ(r.status, 0) << path << "\n" << r.err;
        const auto j = nlohmann::json::parse(r.out);

        const auto& m = j.at("model");
        EXPECT_EQ(m.at("path"), path);
        EXPECT_TRUE(m.at("generation") == "7" || m.at("generation") == "4") << m.dump();
        for (const char* k : {"n_layer", "n_embd", "n_vocab", "n_params"}) expect_positive(m, k, path);
        EXPECT_EQ(m.at("dtype"), "f32");
        EXPECT_EQ(j.at("threads"), 2);
        EXPECT_EQ(j.at("kernels").at("isa"), isa_name(default_isa()));
        EXPECT_EQ(j.at("kernels").at("stream_prefetch"), stream_prefetch_name(default_stream_prefetch()));
        EXPECT_EQ(j.at("largest_cache_bytes").get<int64_t>(), static_cast<int64_t>(largest_cache_bytes()));

        for (const char* k : {"model_file_bytes", "weights_bytes_per_token", "memory_bandwidth_gbs",
                              "memory_bandwidth_small_pages_gbs", "memory_bandwidth_probe_bytes", "peak_rss_bytes"})
            expect_positive(j, k, path);
        const auto file_bytes = j["model_file_bytes"].get<int64_t>();
        EXPECT_EQ(file_bytes, static_cast<int64_t>(std::filesystem::file_size(path)));
        // fp32 files: the weights read per token are the file less the embedding (and headers).
        EXPECT_LT(j["weights_bytes_per_token"].get<int64_t>(), file_bytes);
        EXPECT_GE(j["peak_rss_bytes"].get<int64_t>(), file_bytes);

        const auto& g = j.at("generation");
        for (const char* k : {"seconds", "tokens_per_s", "bandwidth_limit_tokens_per_s", "fraction_of_bandwidth_limit"})
            expect_positive(g, k, path + " generation");
        EXPECT_EQ(g.at("tokens"), 8);
        EXPECT_GE(g.at("runs").get<int>(), 1);
        expect_close(g["tokens_per_s"].get<double>(), 8 / g["seconds"].get<double>(), "gen tokens/s");
        expect_close(g["bandwidth_limit_tokens_per_s"].get<double>(),
                     j["memory_bandwidth_gbs"].get<double>() * 1e9 / j["weights_bytes_per_token"].get<double>(),
                     "bandwidth limit");
        expect_close(g["fraction_of_bandwidth_limit"].get<double>(),
                     g["tokens_per_s"].get<double>() / g["bandwidth_limit_tokens_per_s"].get<double>(), "fraction");
        // One pair per timed run; each run's fraction against the probe read right after it; the median of
        // those; no pair saw more bandwidth than the reported ceiling, nor a faster run than the fastest.
        const auto& runs = g.at("paired_runs");
        ASSERT_EQ(runs.size(), g.at("runs").get<size_t>());
        std::vector<double> fractions;
        for (const auto& r : runs) {
            for (const char* k : {"tokens_per_s", "bandwidth_gbs", "fraction"}) expect_positive(r, k, path + " pair");
            expect_close(r["fraction"].get<double>(),
                         r["tokens_per_s"].get<double>() * j["weights_bytes_per_token"].get<double>() /
                             (r["bandwidth_gbs"].get<double>() * 1e9),
                         "paired fraction");
            EXPECT_LE(r["bandwidth_gbs"].get<double>(), j["memory_bandwidth_gbs"].get<double>() * (1 + 1e-12));
            EXPECT_LE(r["tokens_per_s"].get<double>(), g["tokens_per_s"].get<double>() * (1 + 1e-9));
            fractions.push_back(r["fraction"].get<double>());
        }
        std::sort(fractions.begin(), fractions.end());
        const size_t mid = fractions.size() / 2;
        expect_close(g["paired_fraction_median"].get<double>(),
                     fractions.size() % 2 ? fractions[mid] : (fractions[mid - 1] + fractions[mid]) / 2, "median");

        const auto& p = j.at("prompt");
        for (const char* k : {"seconds", "tokens_per_s", "gflops"}) expect_positive(p, k, path + " prompt");
        EXPECT_EQ(p.at("tokens"), 40);
        EXPECT_TRUE(p.at("gflops_formula").is_string());
        expect_close(p["tokens_per_s"].get<double>(), 40 / p["seconds"].get<double>(), "prompt tokens/s");
    }
}

TEST(Bench, BadPathGivesOneErrorLineAndNonZeroExit) {
    const CliRun r = run_rwkv("bench -m '" + test::temp_dir("bench_bad") + "/missing.pth' -t 2");
    EXPECT_NE(r.status, 0);
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
}

TEST(Bandwidth, ProbeMeasuresAPositiveRate) {
    ThreadPool pool(2);
    for (ProbePages pages : {ProbePages::huge, ProbePages::small})
        EXPECT_GT(measure_read_bandwidth(pool, size_t{64} << 20, 2, pages), 0);
    EXPECT_GT(bandwidth_probe_bytes(), 0u);
    EXPECT_THROW(measure_read_bandwidth(pool, 0), Error);
}

// The kept probe reads the same (checked) data on every call; an odd size leaves the threads unequal ranges.
TEST(Bandwidth, KeptProbeMeasuresAgainAndAgain) {
    ThreadPool pool(3);
    BandwidthProbe probe(pool, (size_t{16} << 20) + 24);
    for (int i = 0; i < 3; ++i) EXPECT_GT(probe.measure(), 0);
    EXPECT_GT(probe.measure(2), 0);
    EXPECT_THROW(probe.measure(0), Error);
    EXPECT_THROW(BandwidthProbe(pool, 7), Error);  // not one 64-bit word
}

}  // namespace
}  // namespace rwkv
