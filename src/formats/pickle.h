#pragma once
// A restricted unpickler for the data.pkl of a torch.save checkpoint. It understands the opcodes of
// protocols 2-5 that a state dict uses and builds only dicts, lists, tuples, numbers, strings and tensor
// references. Any global beyond OrderedDict, torch's tensor-rebuild functions and the storage type markers
// is refused before anything could run, so a hostile checkpoint cannot execute code here. Its work and
// memory are bounded by a budget proportional to the pickle's size, so a small hostile pickle cannot
// make it copy without limit either.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rwkv {

// A storage as named by a tensor's persistent id ('storage', type, key, location, numel).
struct PickledStorage {
    std::string type;  // the marker's qualified name, e.g. "torch.FloatStorage"
    std::string key;   // the archive entry <prefix>/data/<key> holds its bytes
    int64_t numel = 0;
};

// A tensor view over a storage, as _rebuild_tensor_v2 receives it. Tensors naming one storage share it.
struct PickledTensor {
    std::shared_ptr<const PickledStorage> storage;
    int64_t offset = 0;  // in elements
    std::vector<int64_t> shape;
    std::vector<int64_t> stride;
};

// The tensors found at the top level of the pickled dict, in pickle order. Values that are not tensors
// (numbers, strings, nested dicts) are skipped.
std::vector<std::pair<std::string, PickledTensor>> unpickle_state_dict(const uint8_t* data, size_t size,
                                                                       const std::string& where);

}  // namespace rwkv
