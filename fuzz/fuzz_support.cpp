#include "fuzz_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

#include "core/quant.h"

namespace rwkv::fuzz {

namespace {

[[noreturn]] void harness_failure(const std::string& what) {
    std::fprintf(stderr, "fuzz harness: %s: %s\n", what.c_str(), std::strerror(errno));
    std::abort();
}

// Never destroyed: remove_scratch() reads them from atexit, after static destructors may have run.
std::set<std::string>& written() {
    static auto* names = new std::set<std::string>;
    return *names;
}

void remove_scratch() {
    for (const std::string& path : written()) ::unlink(path.c_str());
    ::rmdir(scratch_dir().c_str());
}

// A process that crashed (libFuzzer leaves through _Exit) could not remove its directory: remove those of
// processes that no longer exist, so reproducing crashes by hand leaves nothing behind.
void remove_stale_scratch(const std::string& base) {
    DIR* d = ::opendir(base.c_str());
    if (!d) return;
    const std::string prefix = "rwkv-fuzz-";
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name.compare(0, prefix.size(), prefix) != 0 || name.size() == prefix.size() ||
            name.find_first_not_of("0123456789", prefix.size()) != std::string::npos)
            continue;
        const long pid = std::atol(name.c_str() + prefix.size());
        if (pid <= 0 || pid == ::getpid() || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
        const std::string dir = base + "/" + name;
        if (DIR* inner = ::opendir(dir.c_str())) {
            while (const dirent* f = ::readdir(inner))
                if (std::strcmp(f->d_name, ".") != 0 && std::strcmp(f->d_name, "..") != 0)
                    ::unlink((dir + "/" + f->d_name).c_str());
            ::closedir(inner);
        }
        ::rmdir(dir.c_str());
    }
    ::closedir(d);
}

bool writable_dir(const char* dir) {
    struct stat st;
    return dir && *dir && ::stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && ::access(dir, W_OK) == 0;
}

// Bytes `numel` elements of t's stored type occupy, rows being the last axis.
size_t stored_bytes(const Tensor& t, int64_t numel) {
    const int64_t row = t.shape.empty() ? 1 : t.shape.back();
    if (row == 0) return 0;
    try {
        return dtype_row_bytes(t.source, row) * static_cast<size_t>(numel / row);
    } catch (const rwkv::Error&) {
        require(false, "in-place tensor's rows are not whole blocks of its type");
    }
    return 0;
}

}  // namespace

const std::string& scratch_dir() {
    static const std::string* dir = [] {
        const char* base = nullptr;
        const char* const candidates[] = {std::getenv("RWKV_FUZZ_TMPDIR"), "/dev/shm", std::getenv("TMPDIR"), "/tmp"};
        for (const char* candidate : candidates)
            if (writable_dir(candidate)) {
                base = candidate;
                break;
            }
        if (!base) harness_failure("no writable scratch directory");
        remove_stale_scratch(base);
        std::string d = std::string(base) + "/rwkv-fuzz-" + std::to_string(::getpid());
        if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) harness_failure("cannot create " + d);
        (void)written();
        std::atexit(remove_scratch);
        return new std::string(d);
    }();
    return *dir;
}

std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
    const std::string path = scratch_dir() + "/" + name;
    written().insert(path);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) harness_failure("cannot open " + path);
    for (size_t done = 0; done < size;) {
        const ssize_t n = ::write(fd, data + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) harness_failure("cannot write " + path);
        done += static_cast<size_t>(n);
    }
    if (::close(fd) != 0) harness_failure("cannot close " + path);
    return path;
}

void require(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
    std::abort();
}

void check_tensors(const TensorFile& file) {
    for (const auto& [name, t] : file.tensors) {
        int64_t numel = 1;
        for (int64_t d : t.shape) {
            require(d >= 0, "tensor dimension is negative");
            require(d == 0 || numel <= INT64_MAX / d, "tensor element count overflows");
            numel *= d;
        }
        require(numel == t.numel(), "Tensor::numel() disagrees with the shape");
        volatile float sink = 0;
        if (t.in_place()) {
            require(t.data.empty(), "in-place tensor also holds values");
            require(t.storage != nullptr, "in-place tensor does not keep its mapping alive");
            require(t.raw_bytes == stored_bytes(t, numel),
                    "in-place tensor's byte count disagrees with its shape and type");
            const auto* p = static_cast<const volatile uint8_t*>(t.raw);
            uint8_t x = 0;
            for (size_t i = 0; i < t.raw_bytes; ++i) x ^= p[i];
            sink = x;
            // Decoding arbitrary stored blocks must be safe too.
            const std::vector<float> values = t.to_float();
            require(static_cast<int64_t>(values.size()) == numel, "to_float() size disagrees with the shape");
        } else {
            require(static_cast<int64_t>(t.data.size()) == numel, "tensor holds a different number of values");
            for (float v : t.data) sink = sink + v;
        }
        (void)sink;
    }
}

}  // namespace rwkv::fuzz
