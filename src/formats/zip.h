#pragma once
// Reader for the zip container of PyTorch checkpoints: end of central directory (with zip64 records for
// archives past 4 GiB), central directory, local headers. Entries are located, never decompressed: torch
// stores them uncompressed so tensors can be mapped in place.
#include <cstdint>
#include <map>
#include <string>

#include "core/mapped_file.h"

namespace rwkv {

struct ZipEntry {
    uint64_t offset = 0;  // of the entry's first data byte in the file
    uint64_t size = 0;    // stored bytes
    uint16_t method = 0;  // 0 = stored; anything else is compressed
};

// Every entry of the archive by name. Sizes and offsets are checked against the file, so a span handed
// back always lies inside it. Throws rwkv::Error naming the file and the field at fault.
std::map<std::string, ZipEntry> read_zip_directory(const MappedFile& file);

// The bytes of one entry; throws rwkv::Error naming the file and entry when it is compressed.
const uint8_t* zip_entry_data(const MappedFile& file, const std::string& name, const ZipEntry& entry);

}  // namespace rwkv
