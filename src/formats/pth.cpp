// PyTorch checkpoints: a zip archive whose <archive>/data.pkl pickles the state dict and whose
// <archive>/data/<key> entries hold each storage's raw little-endian bytes.
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/mapped_file.h"
#include "core/quant.h"
#include "formats/pickle.h"
#include "formats/zip.h"
#include "rwkv/error.h"
#include "rwkv/formats.h"

namespace rwkv {
namespace {

struct StorageType {
    DType dtype = DType::F32;  // what Tensor::source reports
    size_t elem = 4;           // bytes per element in the archive
    bool f64 = false;          // doubles are narrowed to fp32 (there is no f64 DType)
};

StorageType storage_type(const std::string& path, const std::string& tensor, const std::string& type) {
    if (type == "torch.FloatStorage") return {DType::F32, 4, false};
    if (type == "torch.HalfStorage") return {DType::F16, 2, false};
    if (type == "torch.BFloat16Storage") return {DType::BF16, 2, false};
    if (type == "torch.DoubleStorage") return {DType::F32, 8, true};
    throw Error(path + ": tensor '" + tensor + "' has storage type " + type +
                "; only float, half, bfloat16 and double tensors are supported");
}

// The folder every entry sits in varies with the name the file was saved under ("model/", "archive/", ...).
std::string find_pickle(const std::string& path, const std::map<std::string, ZipEntry>& entries) {
    std::string found;
    int count = 0;
    for (const auto& [name, entry] : entries) {
        constexpr std::string_view kPkl = "data.pkl";
        if (!name.ends_with(kPkl)) continue;
        const std::string folder = name.substr(0, name.size() - kPkl.size());
        if (folder.empty() || (folder.back() == '/' && folder.find('/') == folder.size() - 1)) {
            found = folder;
            ++count;
        }
    }
    if (count == 0) throw Error(path + ": zip archive has no <archive>/data.pkl; not a PyTorch checkpoint");
    if (count > 1) throw Error(path + ": zip archive holds more than one data.pkl");
    return found;
}

int64_t checked_numel(const std::string& path, const std::string& name, const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t d : shape) {
        if (d < 0) throw Error(path + ": tensor '" + name + "' has a negative dimension");
        if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
            throw Error(path + ": tensor '" + name + "' has too many elements");
        n *= d;
    }
    return n;
}

// A storage's archive entry, found once however many tensors view it (its key may be long).
struct StorageBytes {
    StorageType type;
    const uint8_t* bytes = nullptr;
};

StorageBytes find_storage(const MappedFile& file, const std::map<std::string, ZipEntry>& entries,
                          const std::string& prefix, const std::string& name, const PickledStorage& s) {
    const std::string& path = file.path();
    const StorageType st = storage_type(path, name, s.type);
    const std::string entry_name = prefix + "data/" + s.key;
    const auto it = entries.find(entry_name);
    if (it == entries.end())
        throw Error(path + ": tensor '" + name + "' needs storage '" + entry_name + "', which the archive lacks");
    const ZipEntry& entry = it->second;
    const uint8_t* bytes = zip_entry_data(file, entry_name, entry);
    if (static_cast<uint64_t>(s.numel) > entry.size / st.elem)
        throw Error(path + ": tensor '" + name + "': storage '" + entry_name + "' claims " + std::to_string(s.numel) +
                    " elements but holds " + std::to_string(entry.size) + " bytes");
    return {st, bytes};
}

Tensor materialize(const std::string& path, const std::string& name, const PickledTensor& pt, const StorageBytes& sb) {
    const StorageType& st = sb.type;
    Tensor t;
    t.shape = pt.shape;
    t.source = st.dtype;
    const int64_t numel = checked_numel(path, name, pt.shape);
    if (pt.stride.size() != pt.shape.size())
        throw Error(path + ": tensor '" + name + "' has " + std::to_string(pt.stride.size()) + " strides for " +
                    std::to_string(pt.shape.size()) + " dimensions");
    if (numel > 0) {
        // Only row-major contiguous views are accepted; a dimension of size 1 may carry any stride.
        int64_t expected = 1;
        for (size_t d = pt.shape.size(); d-- > 0;) {
            if (pt.shape[d] != 1 && pt.stride[d] != expected)
                throw Error(path + ": tensor '" + name + "' " + t.shape_string() +
                            " is not contiguous (stride of dimension " + std::to_string(d) + " is " +
                            std::to_string(pt.stride[d]) + ", expected " + std::to_string(expected) + ")");
            expected *= pt.shape[d];
        }
    }
    if (pt.offset < 0 || pt.offset > pt.storage->numel || numel > pt.storage->numel - pt.offset)
        throw Error(path + ": tensor '" + name + "' " + t.shape_string() + " at offset " + std::to_string(pt.offset) +
                    " runs past its storage of " + std::to_string(pt.storage->numel) + " elements");

    t.data.resize(static_cast<size_t>(numel));
    const uint8_t* src = sb.bytes + static_cast<size_t>(pt.offset) * st.elem;
    if (st.f64) {
        for (int64_t i = 0; i < numel; ++i) {
            double v;
            std::memcpy(&v, src + 8 * i, 8);
            t.data[static_cast<size_t>(i)] = static_cast<float>(v);
        }
    } else {
        dequantize_row(st.dtype, src, t.data.data(), numel);
    }
    return t;
}

}  // namespace

TensorFile load_pth(const std::string& path) {
    const MappedFile file(path);
    const std::map<std::string, ZipEntry> entries = read_zip_directory(file);
    const std::string prefix = find_pickle(path, entries);
    const std::string pkl_name = prefix + "data.pkl";
    const ZipEntry& pkl = entries.at(pkl_name);
    const auto tensors = unpickle_state_dict(zip_entry_data(file, pkl_name, pkl), pkl.size, path);

    // Views of one storage are each copied out; bound the total so a small hostile file cannot make us
    // allocate without limit by pointing many tensors at one large storage.
    const uint64_t budget = 4 * static_cast<uint64_t>(file.size()) + 1024;
    uint64_t total = 0;
    TensorFile out;
    out.path = path;
    out.format = "pth";
    if (!prefix.empty()) out.metadata["archive"] = prefix.substr(0, prefix.size() - 1);
    std::unordered_map<const PickledStorage*, StorageBytes> storages;
    for (const auto& [name, pt] : tensors) {
        auto [it, fresh] = storages.try_emplace(pt.storage.get());
        if (fresh) it->second = find_storage(file, entries, prefix, name, *pt.storage);
        Tensor t = materialize(path, name, pt, it->second);
        total += t.data.size();
        if (total > budget)
            throw Error(path + ": tensors reference far more data than the file holds (at tensor '" + name + "')");
        out.tensors.emplace(name, std::move(t));
    }
    return out;
}

}  // namespace rwkv
