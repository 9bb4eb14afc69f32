#pragma once
// A file written front to back through a temporary beside it, then fsynced and renamed into place, so a
// crash or an error leaves the old file (or none), never half of the new one. Unlike write_file_atomic it
// streams: a multi-gigabyte model never has to be assembled in memory.
#include <cstddef>
#include <string>

namespace rwkv {

class AtomicFileStream {
public:
    // Creates `path` + ".tmp.<pid>"; rwkv::Error naming it when that fails.
    explicit AtomicFileStream(std::string path);
    // Without commit(), removes the temporary: an exception while writing leaves nothing behind.
    ~AtomicFileStream();
    AtomicFileStream(const AtomicFileStream&) = delete;
    AtomicFileStream& operator=(const AtomicFileStream&) = delete;

    void write(const void* data, size_t size);
    void write_zeros(size_t size);
    size_t written() const { return written_; }
    // fsync, close, rename over the destination.
    void commit();

private:
    void abandon() noexcept;

    std::string path_;
    std::string tmp_;
    int fd_ = -1;
    size_t written_ = 0;
};

}  // namespace rwkv
