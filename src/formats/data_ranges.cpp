#include "formats/data_ranges.h"

#include <algorithm>

#include "rwkv/error.h"

namespace rwkv {

void check_disjoint(const std::string& path, std::vector<DataRange> ranges) {
    std::erase_if(ranges, [](const DataRange& r) { return r.begin == r.end; });
    std::stable_sort(ranges.begin(), ranges.end(), [](const DataRange& a, const DataRange& b) { return a.begin < b.begin; });
    for (size_t i = 1; i < ranges.size(); ++i)
        if (ranges[i].begin < ranges[i - 1].end)
            throw Error(path + ": tensors '" + *ranges[i - 1].name + "' and '" +
                        *ranges[i].name + "' claim overlapping data (bytes " +
                        std::to_string(ranges[i].begin) + " to " + std::to_string(ranges[i - 1].end) + ")");
}

}  // namespace rwkv
