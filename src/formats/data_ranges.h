#pragma once
// The byte ranges a file's tensor descriptors claim. Two tensors sharing bytes is never how a writer lays
// out a file; a hostile one could use it to make one stretch of data count as many tensors.
#include <cstdint>
#include <string>
#include <vector>

namespace rwkv {

struct DataRange {
    uint64_t begin = 0, end = 0;  // [begin, end) within the file's data
    const std::string* name = nullptr;
};

// rwkv::Error naming `path` and both tensors when two non-empty ranges overlap.
void check_disjoint(const std::string& path, std::vector<DataRange> ranges);

}  // namespace rwkv
