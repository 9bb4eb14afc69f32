#pragma once
// Hand-assembles pickles and .pth archives for tests, including ones torch would never write.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "formats/byte_io.h"
#include "formats/zip_writer.h"

namespace rwkv::testing {

struct PickleBuilder {
    std::vector<uint8_t> b;

    PickleBuilder& op(uint8_t c) { b.push_back(c); return *this; }
    PickleBuilder& proto(uint8_t v) { return op(0x80).op(v); }
    PickleBuilder& str(const std::string& s) {
        op('X');
        put_le32(b, static_cast<uint32_t>(s.size()));
        put_string(b, s);
        return *this;
    }
    PickleBuilder& short_str(const std::string& s) {
        op(0x8c).op(static_cast<uint8_t>(s.size()));
        put_string(b, s);
        return *this;
    }
    PickleBuilder& global(const std::string& module, const std::string& name) {
        op('c');
        put_string(b, module + "\n" + name + "\n");
        return *this;
    }
    PickleBuilder& integer(int64_t v) {
        if (v >= 0 && v < 256) return op('K').op(static_cast<uint8_t>(v));
        op('J');
        put_le32(b, static_cast<uint32_t>(v));
        return *this;
    }
    // BINPUT/LONG_BINPUT and BINGET/LONG_BINGET of the value on top of the stack.
    PickleBuilder& put(uint32_t i) { return memo_op(i, 'q', 'r'); }
    PickleBuilder& get(uint32_t i) { return memo_op(i, 'h', 'j'); }
    PickleBuilder& memo_op(uint32_t i, uint8_t short_op, uint8_t long_op) {
        if (i < 256) return op(short_op).op(static_cast<uint8_t>(i));
        op(long_op);
        put_le32(b, i);
        return *this;
    }
    PickleBuilder& ints(const std::vector<int64_t>& v) {
        op('(');
        for (int64_t x : v) integer(x);
        return op('t');
    }
    // _rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, size, stride, False, OrderedDict())
    PickleBuilder& tensor(const std::string& type, const std::string& key, int64_t numel, int64_t offset,
                          const std::vector<int64_t>& size, const std::vector<int64_t>& stride) {
        global("torch._utils", "_rebuild_tensor_v2");
        op('(');
        op('(').str("storage").global("torch", type).str(key).str("cpu").integer(numel).op('t').op('Q');
        integer(offset);
        ints(size);
        ints(stride);
        op(0x89);
        global("collections", "OrderedDict").op(')').op('R');
        return op('t').op('R');
    }
};

// {} that calls OrderedDict(list) `calls` times on one memoized list of `pairs` pairs: a few bytes per call
// that would each copy the whole list.
inline std::vector<uint8_t> ordered_dict_bomb(size_t pairs, size_t calls) {
    PickleBuilder p;
    p.proto(2).op('}');
    p.global("collections", "OrderedDict").put(0).op('0');
    p.ints({1, 2}).put(1).op('0');
    p.op(']').put(2).op('(');
    for (size_t i = 0; i < pairs; ++i) p.get(1);
    p.op('e').op('0');
    for (size_t i = 0; i < calls; ++i) p.get(0).get(2).op(0x85).op('R').op('0');
    return p.op('.').b;
}

// A .pth archive around a hand-made pickle and raw storages.
inline std::vector<uint8_t> make_pth(const std::vector<uint8_t>& pickle,
                                     const std::vector<std::pair<std::string, std::vector<uint8_t>>>& storages,
                                     const std::string& prefix = "archive/") {
    ZipWriter w;
    w.add(prefix + "data.pkl", pickle.data(), pickle.size());
    for (const auto& [key, bytes] : storages) w.add(prefix + "data/" + key, bytes.data(), bytes.size());
    w.add(prefix + "version", "3\n", 2);
    return w.finish();
}

inline std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
    std::vector<uint8_t> out(v.size() * 4);
    for (size_t i = 0; i < v.size(); ++i) std::memcpy(out.data() + 4 * i, &v[i], 4);
    return out;
}

}  // namespace rwkv::testing
