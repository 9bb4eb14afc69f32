#include "train/run_dir.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>

#include "rwkv/error.h"

namespace rwkv::train {

namespace {

namespace fs = std::filesystem;

// All digits, at most 18 of them: a step or a process id.
bool parse_number(const std::string& s, int64_t& v) {
    if (s.empty() || s.size() > 18 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return false;
    v = std::stoll(s);
    return true;
}

// The process id of a temporary this trainer's saves write ("rwkv-7.pth.tmp.123", "trainer.state.tmp.123"),
// or -1 for any other file.
int64_t temporary_pid(const std::string& name) {
    const size_t at = name.rfind(".tmp.");
    if (at == std::string::npos) return -1;
    const std::string base = name.substr(0, at);
    int64_t pid = -1;
    if (!parse_number(name.substr(at + 5), pid)) return -1;
    return base == kStateFile || checkpoint_step(base) >= 0 ? pid : -1;
}

bool process_alive(int64_t pid) { return pid == ::getpid() || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM; }

std::vector<std::pair<int64_t, fs::path>> checkpoints_in(const std::string& dir) {
    std::vector<std::pair<int64_t, fs::path>> found;
    for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
        const int64_t step = checkpoint_step(e.path().filename().string());
        if (step >= 0 && e.is_regular_file()) found.emplace_back(step, e.path());
    }
    std::sort(found.begin(), found.end());
    return found;
}

void remove_file(const fs::path& p) {
    std::error_code ec;
    fs::remove(p, ec);
    if (ec) throw Error(p.string() + ": cannot remove: " + ec.message());
}

void sync_dir(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;  // the removals stand; only their durability across a crash is not forced
    ::fsync(fd);
    ::close(fd);
}

}  // namespace

std::string checkpoint_name(int64_t step) { return "rwkv-" + std::to_string(step) + ".pth"; }

int64_t checkpoint_step(const std::string& file_name) {
    if (!file_name.starts_with("rwkv-") || !file_name.ends_with(".pth")) return -1;
    int64_t step = -1;
    return parse_number(file_name.substr(5, file_name.size() - 9), step) ? step : -1;
}

void prepare_run_dir(const std::string& dir, bool resume, bool overwrite) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error(dir + ": cannot create the run folder: " + ec.message());
    if (!fs::is_directory(dir)) throw Error(dir + ": is not a folder");
    bool removed = false;
    for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
        const int64_t pid = temporary_pid(e.path().filename().string());
        if (pid >= 0 && !process_alive(pid)) {
            remove_file(e.path());
            removed = true;
        }
    }
    if (!resume) {
        const auto found = checkpoints_in(dir);
        const bool state = fs::exists(fs::path(dir) / kStateFile);
        if (!found.empty() || state) {
            if (!overwrite)
                throw Error(dir + ": holds a training run (" + std::to_string(found.size()) + " checkpoint(s)" +
                            (state ? " and a trainer state" : "") +
                            "); pass --resume to continue it or --overwrite to replace it");
            for (const auto& [step, path] : found) remove_file(path);
            if (state) remove_file(fs::path(dir) / kStateFile);
            removed = true;
        }
    }
    if (removed) sync_dir(dir);
}

void keep_newest_checkpoints(const std::string& dir, int keep, const std::string& protect) {
    auto found = checkpoints_in(dir);
    const size_t kept = static_cast<size_t>(std::max(keep, 1));
    if (found.size() <= kept) return;
    found.resize(found.size() - kept);  // the oldest
    bool removed = false;
    for (const auto& [step, path] : found) {
        if (path.filename() == protect) continue;
        remove_file(path);
        removed = true;
    }
    if (removed) sync_dir(dir);
}

}  // namespace rwkv::train
