#include "formats/atomic_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "core/file_util.h"
#include "rwkv/error.h"

namespace rwkv {

AtomicFileStream::AtomicFileStream(std::string path) : path_(std::move(path)) {
    tmp_ = path_ + ".tmp." + std::to_string(::getpid());
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(tmp_ + ": cannot create: " + std::strerror(errno));
    buffer_.reserve(kBlockBytes);
}

AtomicFileStream::~AtomicFileStream() { abandon(); }

void AtomicFileStream::abandon() noexcept {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
        ::unlink(tmp_.c_str());
    }
}

void AtomicFileStream::write(const void* data, size_t size) {
    if (fd_ < 0) throw Error(tmp_ + ": write after the file was closed");
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
        const size_t n = std::min(size, kBlockBytes - buffer_.size());
        buffer_.insert(buffer_.end(), p, p + n);
        p += n;
        size -= n;
        written_ += n;
        if (buffer_.size() == kBlockBytes) flush();
    }
}

void AtomicFileStream::flush() {
    const char* p = buffer_.data();
    size_t left = buffer_.size();
    while (left > 0) {
        const ssize_t n = ::write(fd_, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            const std::string why = std::strerror(errno);
            abandon();
            throw Error(tmp_ + ": write failed: " + why);
        }
        p += n;
        left -= static_cast<size_t>(n);
    }
    buffer_.clear();
}

void AtomicFileStream::write_zeros(size_t size) {
    static constexpr char kZeros[256] = {};
    while (size > 0) {
        const size_t n = size < sizeof kZeros ? size : sizeof kZeros;
        write(kZeros, n);
        size -= n;
    }
}

void AtomicFileStream::commit() {
    if (fd_ < 0) throw Error(tmp_ + ": commit after the file was closed");
    flush();
    const int fd = fd_;
    fd_ = -1;
    if (::fsync(fd) != 0) {
        const std::string why = std::strerror(errno);
        ::close(fd);
        ::unlink(tmp_.c_str());
        throw Error(tmp_ + ": fsync failed: " + why);
    }
    if (::close(fd) != 0) {
        const std::string why = std::strerror(errno);
        ::unlink(tmp_.c_str());
        throw Error(tmp_ + ": close failed: " + why);
    }
    commit_rename(tmp_, path_);
}

}  // namespace rwkv
