#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rwkv {

// Whole file into memory; throws rwkv::Error naming the path when it cannot be read.
std::vector<uint8_t> read_file_bytes(const std::string& path);

// Writes through a temporary file in the same directory, fsyncs it, then renames it over `path`,
// so a crash leaves either the old file or the new one, never half of one.
void write_file_atomic(const std::string& path, const void* data, size_t size);

}  // namespace rwkv
