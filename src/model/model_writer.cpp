#include "model/model_writer.h"

#include <algorithm>

#include "core/quant.h"
#include "model/architecture.h"
#include "model/detect.h"
#include "model/import/model_files.h"
#include "rwkv/formats.h"
#include "rwkv/error.h"
#include "rwkv/gguf.h"

namespace rwkv {

namespace {

// Rows produced per step: enough to amortise the callback, small enough to stay in cache.
constexpr int64_t kRowsPerStep = 64;

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

TensorSpec spec_of(const std::string& name, const std::vector<int64_t>& shape) {
    TensorRole role = TensorRole::Other;
    if (name == "emb.weight")
        role = TensorRole::Embedding;
    else if (shape.size() == 2 && ends_with(name, ".weight") && name.find(".ln") == std::string::npos)
        role = TensorRole::Projection;  // att/ffn projections and the head
    return TensorSpec{name, shape, role};
}

void write_model_gguf(const std::string& path, const OutputModel& model) {
    GgufWriterInput in;
    in.metadata.emplace_back("general.architecture", std::string("rwkv"));
    if (!model.name.empty()) in.metadata.emplace_back("general.name", model.name);
    in.metadata.emplace_back("rwkv.version", static_cast<uint32_t>(model.version));
    in.metadata.emplace_back("rwkv.layout", model.layout);
    for (const auto& kv : model.metadata) in.metadata.push_back(kv);
    for (const OutputTensor& t : model.tensors) {
        GgufTensorInput g;
        g.name = t.name;
        g.shape = t.shape;
        g.type = t.type;
        const int64_t cols = t.shape.empty() ? 1 : t.shape.back();
        int64_t n_rows = 1;
        for (size_t i = 0; i + 1 < t.shape.size(); ++i) n_rows *= t.shape[i];
        const size_t row_bytes = dtype_row_bytes(t.type, cols);
        const OutputTensor* src = &t;
        g.produce = [src, cols, n_rows, row_bytes](uint8_t* dst, size_t size) {
            if (size != row_bytes * static_cast<size_t>(n_rows))
                throw Error("tensor '" + src->name + "': writer asked for " + std::to_string(size) + " bytes");
            std::vector<float> buf(static_cast<size_t>(std::min(n_rows, kRowsPerStep) * cols));
            for (int64_t r = 0; r < n_rows; r += kRowsPerStep) {
                const int64_t n = std::min(kRowsPerStep, n_rows - r);
                src->rows(r, n, buf.data());
                for (int64_t i = 0; i < n; ++i)
                    quantize_row(src->type, &buf[i * cols], dst + (r + i) * row_bytes, cols);
            }
        };
        in.tensors.push_back(std::move(g));
    }
    save_gguf(path, in);
}

ModelInfo convert_model_file(const std::string& in_path, const std::string& out_path, DType requested,
                             std::vector<std::pair<std::string, GgufValue>> extra_metadata) {
    TensorFile file = load_official_layout(in_path);
    const ModelInfo info = detect_model(file);  // refuses files that are not RWKV models
    const auto ends_with = [&](const std::string& ext) {
        return out_path.size() >= ext.size() && out_path.compare(out_path.size() - ext.size(), ext.size(), ext) == 0;
    };
    if (ends_with(".pth") || ends_with(".safetensors")) {
        // The official layout, every tensor in one float type, as the official code saves and loads it.
        if (requested != DType::F32 && requested != DType::F16 && requested != DType::BF16)
            throw Error(out_path + ": a .pth or .safetensors file holds f32, f16 or bf16 tensors, not " +
                        dtype_name(requested) + "; write a .gguf for quantized weights");
        std::vector<std::pair<std::string, Tensor>> tensors;
        for (const auto& [name, tensor] : file.tensors) {
            Tensor t;
            t.shape = tensor.shape;
            t.data = tensor.to_float();
            tensors.emplace_back(name, std::move(t));
        }
        if (ends_with(".pth"))
            save_pth(out_path, tensors, requested);
        else
            save_safetensors(out_path, tensors, requested);
        return info;
    }
    if (!ends_with(".gguf"))
        throw Error(out_path + ": the output's name says no format; end it in .gguf, .safetensors or .pth");
    OutputModel m;
    m.version = info.version;
    m.layout = info.layout;
    m.name = in_path;
    m.metadata = std::move(extra_metadata);
    for (const auto& [name, tensor] : file.tensors) {
        OutputTensor t;
        t.name = name;
        t.shape = tensor.shape;
        const TensorSpec spec = spec_of(name, tensor.shape);
        t.type = storage_type(spec, requested);
        // A half-precision vector or embedding is kept as it is rather than widened or re-rounded: that is
        // lossless, and the model then sees the stored type the official code saw (a bf16 ln0 fold differs).
        const bool half = tensor.source == DType::F16 || tensor.source == DType::BF16;
        if (half && spec.role != TensorRole::Projection && (t.type == DType::F32 || t.type == DType::F16))
            t.type = tensor.source;
        const Tensor* src = &tensor;
        auto values = std::make_shared<std::vector<float>>();
        t.rows = [src, values](int64_t begin, int64_t rows, float* out) {
            if (values->empty()) *values = src->to_float();  // once per tensor, when it is written
            const int64_t cols = src->shape.empty() ? 1 : src->shape.back();
            std::copy_n(values->data() + begin * cols, rows * cols, out);
            if (begin * cols + rows * cols == static_cast<int64_t>(values->size())) values->clear();
        };
        m.tensors.push_back(std::move(t));
    }
    write_model_gguf(out_path, m);
    return info;
}

}  // namespace rwkv
