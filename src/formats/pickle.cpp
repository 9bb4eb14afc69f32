#include "formats/pickle.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "formats/byte_io.h"
#include "rwkv/error.h"

namespace rwkv {
namespace {

// Memo references let a few bytes of pickle name a large object again and again, so counting opcodes
// bounds nothing that copies. Instead everything the unpickler builds or copies (objects, stack slots,
// marks, memo entries, strings, and each copy of an existing object's contents) is charged, in bytes, to
// one budget proportional to the pickle's size. An opcode byte builds at most about one object and one
// stack slot, which kBudgetPerByte covers, so only re-copying what was built can exhaust it and torch's
// pickles stay far below it; the base lets a tiny pickle build a few thousand objects.
constexpr uint64_t kBudgetPerByte = 128;
constexpr uint64_t kBudgetBase = uint64_t{1} << 20;
constexpr size_t kMaxGlobalLine = 256;

enum class Kind : uint8_t { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Global, Storage, Tensor };

const char* kind_name(Kind k) {
    switch (k) {
        case Kind::None: return "None";
        case Kind::Bool: return "bool";
        case Kind::Int: return "int";
        case Kind::Float: return "float";
        case Kind::Str: return "str";
        case Kind::Bytes: return "bytes";
        case Kind::Tuple: return "tuple";
        case Kind::List: return "list";
        case Kind::Dict: return "dict";
        case Kind::Global: return "global";
        case Kind::Storage: return "storage";
        case Kind::Tensor: return "tensor";
    }
    return "?";
}

struct Obj;

// Scalars live in the value itself; everything else is an Obj owned by the unpickler's arena, so that
// memo references and cycles (a list appended to itself) need no reference counting.
struct Value {
    Kind kind = Kind::None;
    union {
        int64_t i = 0;
        double f;
        Obj* obj;
    };
};

struct Obj {
    Kind kind = Kind::None;
    std::string text;          // Str and Bytes content; a Global's "module.name"
    std::vector<Value> items;  // Tuple/List elements; Dict keys and values interleaved
    size_t index = 0;          // Storage/Tensor: position in the unpickler's side tables
};

class Unpickler {
public:
    Unpickler(const uint8_t* data, size_t size, const std::string& where)
        : p_(data), n_(size), where_(where), budget_(kBudgetBase + kBudgetPerByte * size) {}

    Value run();
    std::vector<std::pair<std::string, PickledTensor>> state_dict(const Value& top);

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw Error(where_ + ": pickle: " + what + " (at byte " + std::to_string(op_pos_) + ")");
    }
    // Called before the work or allocation it pays for; `what` names that kind of work in the error.
    void charge(uint64_t bytes, const char* what) {
        if (bytes > budget_)
            fail("work for a " + std::to_string(n_) + "-byte pickle exceeds its budget (" + what +
                 "); not a plain state dict");
        budget_ -= bytes;
    }

    const uint8_t* take(size_t k) {
        if (n_ - pos_ < k) fail("data ends in the middle of an opcode; file truncated?");
        const uint8_t* r = p_ + pos_;
        pos_ += k;
        return r;
    }
    uint8_t u8() { return *take(1); }
    std::string_view line();

    Obj* make(Kind k) {
        charge(sizeof(Obj), "objects");
        objects_.emplace_back();
        objects_.back().kind = k;
        return &objects_.back();
    }
    Value make_value(Kind k) {
        Value v;
        v.kind = k;
        v.obj = make(k);
        return v;
    }
    static Value scalar_int(int64_t i, Kind k = Kind::Int) {
        Value v;
        v.kind = k;
        v.i = i;
        return v;
    }

    // Values reach lists, tuples and dicts only through the stack, so this pays for the slots they hold
    // there too; copying an existing object's contents is charged where it happens.
    void push(const Value& v) {
        charge(sizeof(Value), "stack");
        stack_.push_back(v);
    }
    size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
    Value pop() {
        if (stack_.size() <= floor()) fail("stack underflow");
        Value v = stack_.back();
        stack_.pop_back();
        return v;
    }
    Value& top() {
        if (stack_.size() <= floor()) fail("stack underflow");
        return stack_.back();
    }
    std::vector<Value> pop_to_mark() {
        if (marks_.empty()) fail("missing MARK");
        const size_t m = marks_.back();
        marks_.pop_back();
        std::vector<Value> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
        stack_.resize(m);
        return items;
    }
    Obj* expect(const Value& v, Kind k, const char* what) {
        if (v.kind != k) fail(std::string(what) + " must be a " + kind_name(k) + ", not a " + kind_name(v.kind));
        return v.obj;
    }

    void put_memo(uint64_t key, const Value& v) {
        charge(sizeof(key) + sizeof(Value), "memo");
        memo_[key] = v;
    }
    Value get_memo(uint64_t key) {
        auto it = memo_.find(key);
        if (it == memo_.end()) fail("memo entry " + std::to_string(key) + " read before it was written");
        return it->second;
    }

    void push_string(Kind k, size_t len) {
        const uint8_t* s = take(len);
        charge(len, "strings");
        Value v = make_value(k);
        v.obj->text.assign(reinterpret_cast<const char*>(s), len);
        push(v);
    }
    void push_tuple(std::vector<Value> items) {
        Value v = make_value(Kind::Tuple);
        v.obj->items = std::move(items);
        push(v);
    }
    void push_global(std::string_view module, std::string_view name);
    Value call(const Value& callable, const Value& args);
    Value persistent_load(const Value& pid);
    Value rebuild_tensor(const std::vector<Value>& a, const std::string& fn);
    std::vector<int64_t> int_tuple(const Value& v, const char* what);
    bool holds_tensor(const Value& v);
    size_t require_length(uint64_t len) {
        if (len > n_ - pos_) fail("string of " + std::to_string(len) + " bytes runs past the end of the pickle");
        return static_cast<size_t>(len);
    }
    void dispatch(uint8_t op);

    const uint8_t* p_;
    size_t n_;
    size_t pos_ = 0;
    size_t op_pos_ = 0;
    const std::string& where_;
    bool stopped_ = false;

    uint64_t budget_;

    std::deque<Obj> objects_;
    std::vector<std::shared_ptr<const PickledStorage>> storages_;
    std::unordered_map<const Obj*, Value> storage_of_key_;  // by the key's Str object
    std::vector<PickledTensor> tensors_;
    std::vector<Value> stack_;
    std::vector<size_t> marks_;
    std::unordered_map<uint64_t, Value> memo_;
};

std::string_view Unpickler::line() {
    const size_t start = pos_;
    const size_t limit = std::min(n_, pos_ + kMaxGlobalLine);
    for (size_t i = start; i < limit; ++i) {
        if (p_[i] == '\n') {
            pos_ = i + 1;
            return {reinterpret_cast<const char*>(p_ + start), i - start};
        }
    }
    fail("unterminated or overlong text argument");
}

// The whole allow-list. Storage markers of integer types are accepted here so that the error names the
// tensor and its type later, rather than calling them forbidden.
bool allowed_global(const std::string& q) {
    static constexpr std::string_view kAllowed[] = {
        "collections.OrderedDict",    "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_parameter",
        "torch.FloatStorage",         "torch.HalfStorage",               "torch.BFloat16Storage",
        "torch.DoubleStorage",        "torch.LongStorage",               "torch.IntStorage",
        "torch.ShortStorage",         "torch.CharStorage",               "torch.ByteStorage",
        "torch.BoolStorage",
    };
    for (std::string_view a : kAllowed)
        if (q == a) return true;
    return false;
}

bool is_storage_marker(const std::string& q) { return q.rfind("torch.", 0) == 0 && q.size() > 13 && q.ends_with("Storage"); }

void Unpickler::push_global(std::string_view module, std::string_view name) {
    charge(module.size() + name.size(), "copies of strings");
    const std::string q = std::string(module) + "." + std::string(name);
    if (!allowed_global(q)) {
        std::string shown = q.size() > 80 ? q.substr(0, 80) + "..." : q;
        for (char& c : shown)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
        throw Error(where_ + ": pickle references forbidden global '" + shown +
                    "'; a checkpoint may only hold tensors");
    }
    Value v = make_value(Kind::Global);
    v.obj->text = q;
    push(v);
}

std::vector<int64_t> Unpickler::int_tuple(const Value& v, const char* what) {
    Obj* t = expect(v, Kind::Tuple, what);
    charge(t->items.size() * sizeof(int64_t), "copies of tuples");
    std::vector<int64_t> out;
    out.reserve(t->items.size());
    for (const Value& e : t->items) {
        if (e.kind != Kind::Int) fail(std::string(what) + " must hold ints, not a " + kind_name(e.kind));
        out.push_back(e.i);
    }
    return out;
}

Value Unpickler::rebuild_tensor(const std::vector<Value>& a, const std::string& fn) {
    Obj* s = expect(a[0], Kind::Storage, (fn + " argument 1").c_str());
    if (a[1].kind != Kind::Int) fail(fn + " storage offset must be an int");
    PickledTensor t;
    t.storage = storages_[s->index];
    t.offset = a[1].i;
    t.shape = int_tuple(a[2], "tensor size");
    t.stride = int_tuple(a[3], "tensor stride");
    Value v = make_value(Kind::Tensor);
    v.obj->index = tensors_.size();
    tensors_.push_back(std::move(t));
    return v;
}

Value Unpickler::call(const Value& callable, const Value& args_value) {
    const std::string& fn = expect(callable, Kind::Global, "REDUCE callable")->text;
    const std::vector<Value>& a = expect(args_value, Kind::Tuple, "REDUCE arguments")->items;
    if (fn == "collections.OrderedDict") {
        Value d = make_value(Kind::Dict);
        if (a.empty()) return d;
        // OrderedDict([(k, v), ...]) as older protocols write it.
        if (a.size() != 1 || a[0].kind != Kind::List) fail("OrderedDict takes no arguments or one list of pairs");
        charge(a[0].obj->items.size() * 2 * sizeof(Value), "copies of lists");
        for (const Value& pair : a[0].obj->items) {
            if (pair.kind != Kind::Tuple || pair.obj->items.size() != 2) fail("OrderedDict items must be pairs");
            d.obj->items.push_back(pair.obj->items[0]);
            d.obj->items.push_back(pair.obj->items[1]);
        }
        return d;
    }
    if (fn == "torch._utils._rebuild_tensor_v2") {
        if (a.size() < 6 || a.size() > 7) fail("_rebuild_tensor_v2 takes 6 or 7 arguments, got " + std::to_string(a.size()));
        return rebuild_tensor(a, "_rebuild_tensor_v2");
    }
    if (fn == "torch._utils._rebuild_tensor") {
        if (a.size() != 4) fail("_rebuild_tensor takes 4 arguments, got " + std::to_string(a.size()));
        return rebuild_tensor(a, "_rebuild_tensor");
    }
    if (fn == "torch._utils._rebuild_parameter") {
        if (a.size() != 3 || a[0].kind != Kind::Tensor) fail("_rebuild_parameter takes (tensor, requires_grad, hooks)");
        return a[0];
    }
    fail("'" + fn + "' cannot be called");
}

Value Unpickler::persistent_load(const Value& pid) {
    const std::vector<Value>& t = expect(pid, Kind::Tuple, "persistent id")->items;
    if (t.size() != 5 || t[0].kind != Kind::Str || t[0].obj->text != "storage")
        fail("persistent id must be ('storage', type, key, location, numel)");
    const std::string& type = expect(t[1], Kind::Global, "storage type")->text;
    if (!is_storage_marker(type)) fail("'" + type + "' is not a storage type");
    const Obj* key = expect(t[2], Kind::Str, "storage key");
    expect(t[3], Kind::Str, "storage location");
    if (t[4].kind != Kind::Int || t[4].i < 0) fail("storage size must be a non-negative int");
    // Like torch, every later load of a key gets the storage its first load made. Keyed by the key's
    // object rather than its text (torch memoizes a shared storage's key), so a long key is neither
    // copied nor hashed per load.
    auto [it, fresh] = storage_of_key_.try_emplace(key);
    if (fresh) {
        charge(type.size() + key->text.size(), "copies of strings");
        it->second = make_value(Kind::Storage);
        it->second.obj->index = storages_.size();
        storages_.push_back(std::make_shared<const PickledStorage>(PickledStorage{type, key->text, t[4].i}));
    }
    return it->second;
}

void Unpickler::dispatch(uint8_t op) {
    switch (op) {
        case 0x80: {  // PROTO
            const uint8_t proto = u8();
            if (proto > 5) fail("pickle protocol " + std::to_string(proto) + " is newer than 5");
            return;
        }
        case 0x95: take(8); return;  // FRAME: a length hint only; the opcodes continue inline
        case '.': stopped_ = true; return;
        case '(':
            charge(sizeof(size_t), "marks");
            marks_.push_back(stack_.size());
            return;
        case '0': pop(); return;
        case '1': pop_to_mark(); return;
        case '2': {
            const Value v = top();
            push(v);
            return;
        }
        case 'N': push(Value{}); return;
        case 0x88: push(scalar_int(1, Kind::Bool)); return;
        case 0x89: push(scalar_int(0, Kind::Bool)); return;
        case 'J': push(scalar_int(load_le_i32(take(4)))); return;
        case 'K': push(scalar_int(u8())); return;
        case 'M': push(scalar_int(load_le16(take(2)))); return;
        case 0x8a:    // LONG1
        case 0x8b: {  // LONG4
            const uint64_t len = op == 0x8a ? u8() : load_le32(take(4));
            if (len > 8) fail("integer of " + std::to_string(len) + " bytes is too large");
            const uint8_t* b = take(static_cast<size_t>(len));
            uint64_t u = 0;
            for (size_t i = 0; i < len; ++i) u |= static_cast<uint64_t>(b[i]) << (8 * i);
            if (len > 0 && len < 8 && (b[len - 1] & 0x80)) u |= ~uint64_t{0} << (8 * len);  // sign-extend
            push(scalar_int(static_cast<int64_t>(u)));
            return;
        }
        case 'I': {  // INT (text), also protocol 0's spelling of booleans
            const std::string_view s = line();
            if (s == "00" || s == "01") {
                push(scalar_int(s == "01", Kind::Bool));
                return;
            }
            int64_t v = 0;
            bool neg = false;
            size_t i = 0;
            if (!s.empty() && (s[0] == '-' || s[0] == '+')) neg = s[i++] == '-';
            if (i == s.size() || s.size() - i > 18) fail("bad INT argument");
            for (; i < s.size(); ++i) {
                if (s[i] < '0' || s[i] > '9') fail("bad INT argument");
                v = v * 10 + (s[i] - '0');
            }
            push(scalar_int(neg ? -v : v));
            return;
        }
        case 'G': {  // BINFLOAT, big-endian
            const uint8_t* b = take(8);
            uint64_t u = 0;
            for (int i = 0; i < 8; ++i) u = u << 8 | b[i];
            Value v;
            v.kind = Kind::Float;
            std::memcpy(&v.f, &u, sizeof u);
            push(v);
            return;
        }
        case 'X': push_string(Kind::Str, require_length(load_le32(take(4)))); return;
        case 0x8c: push_string(Kind::Str, u8()); return;
        case 0x8d: push_string(Kind::Str, require_length(load_le64(take(8)))); return;
        case 'T': {
            const int32_t len = load_le_i32(take(4));
            if (len < 0) fail("negative string length");
            push_string(Kind::Str, require_length(static_cast<uint64_t>(len)));
            return;
        }
        case 'U': push_string(Kind::Str, u8()); return;
        case 'B': push_string(Kind::Bytes, require_length(load_le32(take(4)))); return;
        case 'C': push_string(Kind::Bytes, u8()); return;
        case 0x8e: push_string(Kind::Bytes, require_length(load_le64(take(8)))); return;
        case ')': push_tuple({}); return;
        case 't': push_tuple(pop_to_mark()); return;
        case 0x85:
        case 0x86:
        case 0x87: {
            const size_t k = static_cast<size_t>(op - 0x84);
            if (stack_.size() - floor() < k) fail("stack underflow");
            std::vector<Value> items(stack_.end() - static_cast<std::ptrdiff_t>(k), stack_.end());
            stack_.resize(stack_.size() - k);
            push_tuple(std::move(items));
            return;
        }
        case ']': push(make_value(Kind::List)); return;
        case 'l': {
            Value v = make_value(Kind::List);
            v.obj->items = pop_to_mark();
            push(v);
            return;
        }
        case 'a': {
            const Value v = pop();
            expect(top(), Kind::List, "APPEND target")->items.push_back(v);
            return;
        }
        case 'e': {
            std::vector<Value> items = pop_to_mark();
            Obj* list = expect(top(), Kind::List, "APPENDS target");
            list->items.insert(list->items.end(), items.begin(), items.end());
            return;
        }
        case '}': push(make_value(Kind::Dict)); return;
        case 'd': {
            std::vector<Value> items = pop_to_mark();
            if (items.size() % 2) fail("DICT needs key/value pairs");
            Value v = make_value(Kind::Dict);
            v.obj->items = std::move(items);
            push(v);
            return;
        }
        case 's': {
            const Value val = pop();
            const Value key = pop();
            Obj* d = expect(top(), Kind::Dict, "SETITEM target");
            d->items.push_back(key);
            d->items.push_back(val);
            return;
        }
        case 'u': {
            std::vector<Value> items = pop_to_mark();
            if (items.size() % 2) fail("SETITEMS needs key/value pairs");
            Obj* d = expect(top(), Kind::Dict, "SETITEMS target");
            d->items.insert(d->items.end(), items.begin(), items.end());
            return;
        }
        case 'q': put_memo(u8(), top()); return;
        case 'r': put_memo(load_le32(take(4)), top()); return;
        case 0x94: put_memo(memo_.size(), top()); return;
        case 'h': push(get_memo(u8())); return;
        case 'j': push(get_memo(load_le32(take(4)))); return;
        case 'c': {
            const std::string_view module = line();
            const std::string_view name = line();
            push_global(module, name);
            return;
        }
        case 0x93: {  // STACK_GLOBAL
            const Value name = pop();
            const Value module = pop();
            push_global(expect(module, Kind::Str, "STACK_GLOBAL module")->text,
                        expect(name, Kind::Str, "STACK_GLOBAL name")->text);
            return;
        }
        case 'R': {
            const Value args = pop();
            const Value fn = pop();
            push(call(fn, args));
            return;
        }
        case 0x81: {  // NEWOBJ: only OrderedDict.__new__ makes sense in a state dict
            const Value args = pop();
            const Value cls = pop();
            if (expect(cls, Kind::Global, "NEWOBJ class")->text != "collections.OrderedDict")
                fail("NEWOBJ of '" + cls.obj->text + "' is not supported");
            expect(args, Kind::Tuple, "NEWOBJ arguments");
            push(make_value(Kind::Dict));
            return;
        }
        case 'Q': push(persistent_load(pop())); return;
        default: {
            static const char* hex = "0123456789abcdef";
            fail(std::string("unsupported opcode 0x") + hex[op >> 4] + hex[op & 15]);
        }
    }
}

Value Unpickler::run() {
    while (!stopped_) {
        op_pos_ = pos_;
        dispatch(u8());
    }
    if (stack_.size() != 1 || !marks_.empty()) fail("STOP with " + std::to_string(stack_.size()) + " values on the stack");
    return stack_.back();
}

bool Unpickler::holds_tensor(const Value& v) {
    if (v.kind != Kind::Dict) return false;
    charge(v.obj->items.size() * sizeof(Value), "scans of nested dicts");
    for (size_t i = 1; i < v.obj->items.size(); i += 2)
        if (v.obj->items[i].kind == Kind::Tensor) return true;
    return false;
}

std::vector<std::pair<std::string, PickledTensor>> Unpickler::state_dict(const Value& top) {
    op_pos_ = pos_;
    if (top.kind != Kind::Dict) fail(std::string("the checkpoint holds a ") + kind_name(top.kind) + ", not a dict of tensors");
    std::vector<std::pair<std::string, PickledTensor>> out;
    std::unordered_set<std::string_view> seen;
    const std::vector<Value>& items = top.obj->items;
    for (size_t i = 0; i + 1 < items.size(); i += 2) {
        const Value& k = items[i];
        const Value& v = items[i + 1];
        if (k.kind != Kind::Str || v.kind != Kind::Tensor) continue;
        const std::string& name = k.obj->text;
        if (!seen.insert(name).second) fail("tensor '" + name + "' appears twice");
        const PickledTensor& t = tensors_[v.obj->index];
        charge(name.size() + (t.shape.size() + t.stride.size()) * sizeof(int64_t), "copies of tensors");
        out.emplace_back(name, t);
    }
    if (out.empty())
        for (size_t i = 0; i + 1 < items.size(); i += 2)
            if (items[i].kind == Kind::Str && holds_tensor(items[i + 1]))
                fail("no tensors at the top level of the checkpoint; they are nested under '" + items[i].obj->text +
                     "' (save that dict on its own)");
    return out;
}

}  // namespace

std::vector<std::pair<std::string, PickledTensor>> unpickle_state_dict(const uint8_t* data, size_t size,
                                                                       const std::string& where) {
    Unpickler u(data, size, where);
    const Value top = u.run();
    return u.state_dict(top);
}

}  // namespace rwkv
