#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rwkv {

// Opens `path` read-only and returns the descriptor, refusing anything but a regular file before a read
// could block on it (a FIFO, a device) or be misread (a directory): rwkv::Error naming the path and what it
// is. `size` receives the file's length.
int open_regular_file(const std::string& path, size_t& size);

// Whole file into memory; throws rwkv::Error naming the path when it cannot be read or is not a regular
// file, or when it holds more than `max_bytes`.
std::vector<uint8_t> read_file_bytes(const std::string& path, size_t max_bytes = SIZE_MAX);

// Writes through a temporary file in the same directory, fsyncs it, then renames it over `path` and fsyncs
// the directory, so a crash leaves either the old file or the new one, never half of one.
void write_file_atomic(const std::string& path, const void* data, size_t size);

// The last step of an atomic write: renames the fsynced `tmp` over `path` and fsyncs their directory, so
// the rename itself survives a crash. Removes `tmp` and throws rwkv::Error when either step fails.
void commit_rename(const std::string& tmp, const std::string& path);

}  // namespace rwkv
