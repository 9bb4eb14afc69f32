#include "formats/writer_checks.h"

#include <cstdint>
#include <limits>

#include "rwkv/error.h"

namespace rwkv {

void check_tensor_for_writing(const std::string& path, const std::string& name, const Tensor& t) {
    int64_t n = 1;
    for (int64_t d : t.shape) {
        if (d < 0 || (d != 0 && n > std::numeric_limits<int64_t>::max() / d))
            throw Error(path + ": tensor '" + name + "' has an invalid shape " + t.shape_string());
        n *= d;
    }
    if (static_cast<uint64_t>(n) != t.data.size())
        throw Error(path + ": tensor '" + name + "' " + t.shape_string() + " holds " + std::to_string(t.data.size()) +
                    " values");
}

}  // namespace rwkv
