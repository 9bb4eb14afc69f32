#pragma once
// A file written front to back through a temporary beside it, then fsynced and renamed into place, so a
// crash or an error leaves the old file (or none), never half of the new one. Unlike write_file_atomic it
// streams: a multi-gigabyte model never has to be assembled in memory.
//
// Bytes reach the file in whole blocks of kBlockBytes at offsets that are multiples of it (only the last
// block is short). A buffered write that size and alignment leaves the file in the page cache as 2 MiB folios
// (Linux 6.x ext4 and others with large folios), which a reader's mmap then maps with huge pages; written in
// pieces of a tensor each, the same file stayed in 4 KiB pages and f16 generation ran up to a fifth slower.
#include <cstddef>
#include <string>
#include <vector>

namespace rwkv {

class AtomicFileStream {
public:
    // Creates `path` + ".tmp.<pid>"; rwkv::Error naming it when that fails.
    explicit AtomicFileStream(std::string path);
    // Without commit(), removes the temporary: an exception while writing leaves nothing behind.
    ~AtomicFileStream();
    AtomicFileStream(const AtomicFileStream&) = delete;
    AtomicFileStream& operator=(const AtomicFileStream&) = delete;

    static constexpr size_t kBlockBytes = size_t{2} << 20;

    void write(const void* data, size_t size);
    void write_zeros(size_t size);
    size_t written() const { return written_; }
    // fsync, close, rename over the destination, fsync the directory.
    void commit();

private:
    void abandon() noexcept;
    // Writes out the buffer, all of it (the last one short); rwkv::Error naming the temporary on failure.
    void flush();

    std::string path_;
    std::string tmp_;
    int fd_ = -1;
    size_t written_ = 0;
    std::vector<char> buffer_;  // at most kBlockBytes not yet written
};

}  // namespace rwkv
