#include "train/params.h"

#include "model/detect.h"
#include "rwkv/error.h"

namespace rwkv::train {

namespace {

// The official trainer's rule: weight decay on parameters whose squeezed shape has two or more axes and whose
// name has ".weight" — the projections, the embedding and the head, never LoRAs, mixes, decays or norms.
bool decays(const std::string& name, const std::vector<int64_t>& shape) {
    int64_t axes = 0;
    for (int64_t d : shape) axes += d > 1 ? 1 : 0;
    return axes >= 2 && name.find(".weight") != std::string::npos;
}

int64_t numel(const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

// [1,1,C] and [C] name the same vector; otherwise shapes must agree exactly.
bool same_shape(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
    auto squeeze = [](const std::vector<int64_t>& s) {
        std::vector<int64_t> r;
        for (int64_t d : s)
            if (d != 1) r.push_back(d);
        return r;
    };
    return squeeze(a) == squeeze(b) && numel(a) == numel(b);
}

std::string expected_shape(const std::vector<int64_t>& shape) {
    Tensor t;
    t.shape = shape;
    return t.shape_string();
}

}  // namespace

template <class F>
ParamSet<F>::ParamSet(const ModelShape& shape) : shape_(shape.resolved()) {
    if (shape_.version != 4 && shape_.version != 7)
        throw Error("training supports RWKV-7 and RWKV-4 models, not version " + std::to_string(shape_.version));
    std::vector<TensorSpec> specs = model_tensors(shape_);
    if (shape_.version == 7) {
        const int64_t C = shape_.n_embd, D = shape_.lora_dims[2];
        for (size_t i = 0; i < specs.size(); ++i)
            if (specs[i].name == "blocks.0.att.a2") {
                specs.insert(specs.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                             {{"blocks.0.att.v0", {1, 1, C}, TensorRole::Other},
                              {"blocks.0.att.v1", {C, D}, TensorRole::Lora},
                              {"blocks.0.att.v2", {D, C}, TensorRole::Lora}});
                break;
            }
    }
    for (const TensorSpec& s : specs) {
        Param<F> p;
        p.name = s.name;
        p.shape = s.shape;
        p.role = s.role;
        p.value.assign(static_cast<size_t>(s.numel()), F(0));
        p.grad.assign(p.value.size(), F(0));
        p.decay = decays(s.name, s.shape);
        p.lr_scale = s.name.size() > 6 && s.name.compare(s.name.size() - 6, 6, "att.w0") == 0 ? 2.0 : 1.0;
        index_[p.name] = params_.size();
        params_.push_back(std::move(p));
    }
}

template <class F>
Param<F>& ParamSet<F>::operator[](const std::string& name) {
    auto it = index_.find(name);
    if (it == index_.end()) throw Error("model has no parameter '" + name + "'");
    return params_[it->second];
}

template <class F>
const Param<F>& ParamSet<F>::operator[](const std::string& name) const {
    return const_cast<ParamSet<F>&>(*this)[name];
}

template <class F>
void ParamSet<F>::zero_grad() {
    for (Param<F>& p : params_) std::fill(p.grad.begin(), p.grad.end(), F(0));
}

template <class F>
int64_t ParamSet<F>::count() const {
    int64_t n = 0;
    for (const Param<F>& p : params_) n += static_cast<int64_t>(p.size());
    return n;
}

template <class F>
void ParamSet<F>::load(const TensorFile& file) {
    for (Param<F>& p : params_) {
        if (!file.has(p.name)) {
            const bool optional = p.name.rfind("blocks.0.att.v", 0) == 0;
            if (optional) continue;
            throw Error(file.path + ": tensor '" + p.name + "' is missing");
        }
        const Tensor& t = file.get(p.name);
        if (!same_shape(t.shape, p.shape))
            throw Error(file.path + ": tensor '" + p.name + "' has shape " + t.shape_string() + ", expected " +
                        expected_shape(p.shape));
        const std::vector<float> v = t.to_float();
        for (size_t i = 0; i < v.size(); ++i) p.value[i] = static_cast<F>(v[i]);
    }
}

template <class F>
std::vector<std::pair<std::string, Tensor>> ParamSet<F>::to_tensors() const {
    std::vector<std::pair<std::string, Tensor>> out;
    out.reserve(params_.size());
    for (const Param<F>& p : params_) {
        Tensor t;
        t.shape = p.shape;
        t.source = DType::F32;
        t.data.assign(p.value.begin(), p.value.end());
        out.emplace_back(p.name, std::move(t));
    }
    return out;
}

ModelShape shape_of(const TensorFile& file) {
    const ModelInfo info = detect_model(file);
    if (info.version != 4 && info.version != 7)
        throw Error(file.path + ": training supports RWKV-7 and RWKV-4 checkpoints; this is RWKV-" +
                    info.version_string());
    if (info.layout != "official")
        throw Error(file.path + ": train from an official-layout checkpoint (.pth or .safetensors), not " +
                    info.layout);
    ModelShape s;
    s.version = info.version;
    s.n_layer = info.n_layer;
    s.n_embd = info.n_embd;
    s.n_vocab = info.n_vocab;
    s.ffn_dim = info.ffn_dim;
    if (info.version == 7) {
        s.head_size = info.head_size;
        // (a one-layer model has no v LoRA to read its rank from: 0 lets resolved() use the official rule)
        for (int i = 0; i < 4; ++i) s.lora_dims[i] = info.lora_dims[i];
    }
    return s.resolved();
}

template class ParamSet<float>;
template class ParamSet<double>;

}  // namespace rwkv::train
