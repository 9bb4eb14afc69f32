#pragma once
// Builds a zip archive of stored entries in memory, byte for byte as PyTorch's writer (miniz with zip64
// records always on) lays it out: each entry's data aligned to 64 bytes by an "FB" padding extra field,
// a data descriptor after the data, zip64 extra fields only for values past 4 GiB, and a zip64 end record.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rwkv {

uint32_t crc32(const void* data, size_t size, uint32_t crc = 0);

class ZipWriter {
public:
    // force_zip64 writes the zip64 form of every size and offset even when they fit in 32 bits, which
    // otherwise only archives past 4 GiB exercise (tests use it).
    explicit ZipWriter(bool force_zip64 = false) : force_zip64_(force_zip64) {}

    // Appends one stored entry.
    void add(const std::string& name, const void* data, size_t size);
    // Appends the central directory and end records and hands back the archive.
    std::vector<uint8_t> finish();

    // Capacity hint for the archive, to avoid regrowing the buffer for multi-gigabyte checkpoints.
    void reserve(size_t bytes) { out_.reserve(bytes); }

private:
    std::vector<uint8_t> out_;
    std::vector<uint8_t> central_;
    uint64_t count_ = 0;
    bool force_zip64_ = false;
};

}  // namespace rwkv
