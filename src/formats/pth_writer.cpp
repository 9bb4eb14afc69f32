// Writes a state dict the way torch.save does, so that torch.load and the official RWKV code read it:
// a zip archive (see zip_writer.h) holding <archive>/data.pkl, one <archive>/data/<key> entry per tensor
// and <archive>/version. The pickle is emitted opcode for opcode as Python's protocol-2 pickler writes
// a dict of tensors, memo numbering included, so files written here match the reference checkpoints.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/quant.h"
#include "core/file_util.h"
#include "formats/byte_io.h"
#include "formats/writer_checks.h"
#include "formats/zip_writer.h"
#include "rwkv/error.h"
#include "rwkv/formats.h"

namespace rwkv {
namespace {

// The subset of Python's pickler that a state dict needs, with its memo: every string, global and
// non-empty tuple is memoized when first written, and a repeated object is written as a memo lookup.
class PickleWriter {
public:
    std::vector<uint8_t> bytes;

    void op(uint8_t code) { bytes.push_back(code); }

    void memoize() {
        if (next_memo_ < 256) {
            op('q');
            op(static_cast<uint8_t>(next_memo_));
        } else {
            op('r');
            put_le32(bytes, next_memo_);
        }
        ++next_memo_;
    }

    void get(uint32_t index) {
        if (index < 256) {
            op('h');
            op(static_cast<uint8_t>(index));
        } else {
            op('j');
            put_le32(bytes, index);
        }
    }

    // Writes a new str object and returns its memo index.
    uint32_t str(const std::string& s) {
        op('X');
        put_le32(bytes, static_cast<uint32_t>(s.size()));
        put_string(bytes, s);
        memoize();
        return next_memo_ - 1;
    }

    // A str or global that Python would write once and then fetch from the memo (interned literals,
    // module-level objects).
    void shared_str(uint32_t* slot, const std::string& s) {
        if (*slot != kUnset) return get(*slot);
        *slot = str(s);
    }
    void shared_global(uint32_t* slot, const std::string& module, const std::string& name) {
        if (*slot != kUnset) return get(*slot);
        op('c');
        put_string(bytes, module + "\n" + name + "\n");
        memoize();
        *slot = next_memo_ - 1;
    }

    void integer(int64_t v) {
        if (v >= 0 && v <= 0xff) {
            op('K');
            op(static_cast<uint8_t>(v));
        } else if (v >= 0 && v <= 0xffff) {
            op('M');
            put_le16(bytes, static_cast<uint16_t>(v));
        } else if (v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max()) {
            op('J');
            put_le32(bytes, static_cast<uint32_t>(static_cast<int32_t>(v)));
        } else {
            // LONG1 with the shortest two's-complement encoding, as Python's encode_long produces.
            std::vector<uint8_t> enc;
            auto u = static_cast<uint64_t>(v);
            for (int i = 0; i < 8; ++i) enc.push_back(static_cast<uint8_t>(u >> (8 * i)));
            const uint8_t fill = v < 0 ? 0xff : 0x00;
            while (enc.size() > 1 && enc.back() == fill && ((enc[enc.size() - 2] & 0x80) == (fill & 0x80)))
                enc.pop_back();
            if (v > 0 && (enc.back() & 0x80)) enc.push_back(0);
            op(0x8a);
            op(static_cast<uint8_t>(enc.size()));
            put_bytes(bytes, enc.data(), enc.size());
        }
    }

    // A tuple of ints: () is EMPTY_TUPLE (never memoized), 1-3 items use TUPLE1-3, longer ones MARK..TUPLE.
    void int_tuple(const std::vector<int64_t>& v) {
        if (v.empty()) return op(')');
        if (v.size() > 3) op('(');
        for (int64_t x : v) integer(x);
        op(v.size() > 3 ? 't' : static_cast<uint8_t>(0x84 + v.size()));
        memoize();
    }

    static constexpr uint32_t kUnset = std::numeric_limits<uint32_t>::max();

private:
    uint32_t next_memo_ = 0;
};

struct StorageKind {
    const char* marker;  // torch.<marker>
    size_t elem;
};

StorageKind storage_kind(const std::string& path, DType t) {
    switch (t) {
        case DType::F32: return {"FloatStorage", 4};
        case DType::F16: return {"HalfStorage", 2};
        case DType::BF16: return {"BFloat16Storage", 2};
        default:
            throw Error(path + ": a .pth can store f32, f16 or bf16 tensors, not " + std::string(dtype_name(t)));
    }
}

// torch names the archive's folder after the file: "model.pth" -> "model/".
std::string archive_name(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    const size_t dot = base.find_last_of('.');
    if (dot != std::string::npos) base.resize(dot);
    return base.empty() ? "archive" : base;
}

// Contiguous strides as torch computes them (a zero-size dimension counts as 1).
std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
    std::vector<int64_t> stride(shape.size());
    int64_t s = 1;
    for (size_t d = shape.size(); d-- > 0;) {
        stride[d] = s;
        s *= std::max<int64_t>(shape[d], 1);
    }
    return stride;
}


std::vector<uint8_t> pickle_state_dict(const std::vector<std::pair<std::string, Tensor>>& tensors,
                                       const StorageKind& kind) {
    PickleWriter w;
    w.op(0x80);
    w.op(2);
    w.op('}');
    w.memoize();
    uint32_t rebuild = PickleWriter::kUnset, storage_str = PickleWriter::kUnset, marker = PickleWriter::kUnset,
             cpu = PickleWriter::kUnset, ordered_dict = PickleWriter::kUnset;
    // Python's pickler sets dict items in batches of 1000: MARK ... SETITEMS, or SETITEM for a lone item.
    constexpr size_t kBatch = 1000;
    for (size_t start = 0; start < tensors.size(); start += kBatch) {
        const size_t end = std::min(tensors.size(), start + kBatch);
        if (end - start > 1) w.op('(');
        for (size_t i = start; i < end; ++i) {
            const Tensor& t = tensors[i].second;
            w.str(tensors[i].first);
            w.shared_global(&rebuild, "torch._utils", "_rebuild_tensor_v2");
            w.op('(');
            w.op('(');  // persistent id ('storage', type, key, location, numel)
            w.shared_str(&storage_str, "storage");
            w.shared_global(&marker, "torch", kind.marker);
            w.str(std::to_string(i));
            w.shared_str(&cpu, "cpu");
            w.integer(t.numel());
            w.op('t');
            w.memoize();
            w.op('Q');
            w.integer(0);  // storage offset
            w.int_tuple(t.shape);
            w.int_tuple(contiguous_strides(t.shape));
            w.op(0x89);  // requires_grad = False
            w.shared_global(&ordered_dict, "collections", "OrderedDict");
            w.op(')');
            w.op('R');
            w.memoize();
            w.op('t');
            w.memoize();
            w.op('R');
            w.memoize();
        }
        w.op(end - start > 1 ? 'u' : 's');
    }
    w.op('.');
    return std::move(w.bytes);
}

}  // namespace

void save_pth(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors, DType storage) {
    const StorageKind kind = storage_kind(path, storage);
    std::set<std::string> names;
    uint64_t data_bytes = 0;
    for (const auto& [name, t] : tensors) {
        if (!names.insert(name).second) throw Error(path + ": tensor '" + name + "' is given twice");
        check_tensor_for_writing(path, name, t);
        data_bytes += t.data.size() * kind.elem;
    }

    const std::string prefix = archive_name(path) + "/";
    ZipWriter archive;
    archive.reserve(static_cast<size_t>(data_bytes + 256 * (tensors.size() + 4)));
    const std::vector<uint8_t> pkl = pickle_state_dict(tensors, kind);
    archive.add(prefix + "data.pkl", pkl.data(), pkl.size());

    // torch writes storages in the order of their keys as strings: 0, 1, 10, 11, ..., 2, 20, ...
    std::vector<std::pair<std::string, size_t>> keys;
    keys.reserve(tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) keys.emplace_back(std::to_string(i), i);
    std::sort(keys.begin(), keys.end());
    std::vector<uint8_t> buf;
    for (const auto& [key, i] : keys) {
        const Tensor& t = tensors[i].second;
        buf.resize(t.data.size() * kind.elem);
        quantize_row(storage, t.data.data(), buf.data(), static_cast<int64_t>(t.data.size()));
        archive.add(prefix + "data/" + key, buf.data(), buf.size());
    }
    archive.add(prefix + "version", "3\n", 2);
    const std::vector<uint8_t> bytes = archive.finish();
    write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace rwkv
