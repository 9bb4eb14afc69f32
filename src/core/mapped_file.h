#pragma once
// A whole file mapped read-only into memory. Model files are large and read once front to back or
// in random spans; mapping them lets the kernel page them in instead of copying them through a buffer.
#include <cstddef>
#include <cstdint>
#include <string>

namespace rwkv {

class MappedFile {
public:
    // Throws rwkv::Error naming `path` when it cannot be opened, is not a regular file, or cannot be mapped.
    explicit MappedFile(const std::string& path);
    ~MappedFile();

    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;

    const std::string& path() const { return path_; }
    size_t size() const { return size_; }
    // nullptr for an empty file.
    const uint8_t* data() const { return data_; }

private:
    void release() noexcept;

    std::string path_;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

// Drops this process's mappings of the whole pages inside [p, p + n), which must lie in a read-only file
// mapping (a MappedFile's data): its resident memory falls by them, and a later read maps them again from
// the file. For data that has been copied elsewhere and will not be read here again.
void release_file_pages(const void* p, size_t n);

}  // namespace rwkv
