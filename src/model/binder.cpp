#include "model/binder.h"

#include "core/mapped_file.h"
#include "core/quant.h"
#include "kernels/rows8.h"
#include "model/detect.h"
#include "rwkv/error.h"

namespace rwkv {

void Binder::check_all_bound(const std::string& generation) const {
    size_t unused = 0;
    const std::string* first = nullptr;
    for (const auto& [name, t] : file_.tensors)
        if (!bound_.count(name) && unused++ == 0) first = &name;
    if (first)
        throw Error(file_.path + ": tensor '" + *first + "' is not part of " + generation +
                    (unused > 1 ? " (nor are " + std::to_string(unused - 1) + " more)" : "") +
                    "; the file holds a variant or layout this engine does not run, and running without it would give "
                    "wrong results");
}

void Binder::fail(const std::string& name, const std::string& why) const {
    throw Error(file_.path + ": tensor '" + name + "' " + why);
}

std::vector<float> Binder::vec(const std::string& name, int64_t n) {
    bound_.insert(name);
    auto it = file_.tensors.find(name);
    if (it == file_.tensors.end()) fail(name, "is missing");
    if (it->second.numel() != n)
        fail(name, "has shape " + it->second.shape_string() + ", expected " + std::to_string(n) + " elements");
    bytes_per_token_ += n * static_cast<int64_t>(sizeof(float));
    if (it->second.in_place()) return it->second.to_float();
    return std::move(it->second.data);
}

bool Binder::any_layer_has(int64_t n_layer, const std::string& suffix) const {
    return rwkv::any_layer_has(file_, n_layer, suffix);
}

std::vector<float> Binder::heads(const std::string& name, int64_t H, int64_t N) {
    bound_.insert(name);
    auto it = file_.tensors.find(name);
    if (it == file_.tensors.end()) fail(name, "is missing");
    const auto squeezed = [](std::vector<int64_t> shape) {
        std::erase(shape, int64_t{1});
        return shape;
    };
    if (squeezed(it->second.shape) != squeezed({H, N}))
        fail(name, "has shape " + it->second.shape_string() + ", expected " + std::to_string(H) + " heads of " +
                       std::to_string(N));
    return vec(name, H * N);
}

Matrix Binder::linear(const std::string& name, int64_t rows, int64_t cols) {
    Matrix m = bind_matrix(name, rows, cols);
    if (has_rows8_layout(m.type()) && m.rows() >= kRowsPerGroup) {
        // Generation's faster layout, in memory of its own; the file's copy is no longer read, so its pages
        // leave this process's resident set (it would otherwise count the weights twice).
        const bool in_place = file_.tensors.at(name).in_place();
        Matrix grouped;
        try {
            grouped = m.with_rows8(arena_, [&](const uint8_t* p, size_t n) {
                if (in_place) release_file_pages(p, n);
            });
        } catch (const Error& e) {
            fail(name, std::string("cannot be re-laid for generation: ") + e.what());
        }
        // The pages that straddled two pieces.
        if (in_place) release_file_pages(m.data(), m.bytes());
        m = std::move(grouped);
    }
    bytes_per_token_ += static_cast<int64_t>(m.bytes());
    return m;
}

Matrix Binder::small_matrix(const std::string& name, int64_t rows, int64_t cols, bool transposed) {
    bound_.insert(name);
    auto it = file_.tensors.find(name);
    if (it == file_.tensors.end()) fail(name, "is missing");
    const DType stored = it->second.source;
    std::vector<float> values = widen(name, rows, cols, transposed);
    // A half type is kept (exact: the values came from it); anything else, f32 or a quantized LoRA some converter
    // wrote, as fp32, exact too. In the arena with the other copies, on huge pages.
    const DType held = stored == DType::F16 || stored == DType::BF16 ? stored : DType::F32;
    const size_t row_bytes = dtype_row_bytes(held, cols);
    HugeArena::Span span{nullptr, nullptr};
    try {
        span = arena_.allocate(row_bytes * static_cast<size_t>(rows));
    } catch (const Error& e) {
        fail(name, e.what());
    }
    for (int64_t r = 0; r < rows; ++r)
        quantize_row(held, &values[static_cast<size_t>(r * cols)], span.data + r * row_bytes, cols);
    Matrix m(rows, cols, held, span.data, std::move(span.keep_alive));
    bytes_per_token_ += static_cast<int64_t>(m.bytes());
    return m;
}

Matrix Binder::lookup_table(const std::string& name, int64_t rows, int64_t cols) {
    Matrix m = bind_matrix(name, rows, cols);
    bytes_per_token_ += static_cast<int64_t>(m.row_bytes());
    return m;
}

Matrix Binder::bind_matrix(const std::string& name, int64_t rows, int64_t cols) {
    bound_.insert(name);
    auto it = file_.tensors.find(name);
    if (it != file_.tensors.end() && it->second.in_place()) {
        const Tensor& t = it->second;
        if (t.shape.size() < 2 || t.shape[t.shape.size() - 2] != rows || t.shape.back() != cols || t.numel() != rows * cols)
            fail(name, "has shape " + t.shape_string() + ", expected [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
        Matrix m(rows, cols, t.source, t.raw, t.storage);
        if (m.bytes() != t.raw_bytes) fail(name, "holds " + std::to_string(t.raw_bytes) + " bytes, not a " + dtype_name(t.source) + " matrix of its shape");
        return m;
    }
    return Matrix(rows, cols, widen(name, rows, cols, false));
}

std::vector<float> Binder::mat(const std::string& name, int64_t rows, int64_t cols, bool transposed) {
    std::vector<float> m = widen(name, rows, cols, transposed);
    bytes_per_token_ += rows * cols * static_cast<int64_t>(sizeof(float));
    return m;
}

std::vector<float> Binder::widen(const std::string& name, int64_t rows, int64_t cols, bool transposed) {
    bound_.insert(name);
    auto it = file_.tensors.find(name);
    if (it == file_.tensors.end()) fail(name, "is missing");
    if (it->second.in_place()) {
        it->second.data = it->second.to_float();
        // Read once, here: the file's copy would otherwise stay resident beside the widened one.
        release_file_pages(it->second.raw, it->second.raw_bytes);
        it->second.raw = nullptr;
    }
    const Tensor& t = it->second;
    // Leading axes of size 1 may be present ([1, rows, cols]); the last two must match.
    int64_t r = transposed ? cols : rows, c = transposed ? rows : cols;
    bool ok = t.shape.size() >= 2 && t.shape[t.shape.size() - 2] == r && t.shape.back() == c && t.numel() == r * c;
    if (!ok) fail(name, "has shape " + t.shape_string() + ", expected [" + std::to_string(r) + ", " + std::to_string(c) + "]");
    if (!transposed) return std::move(it->second.data);
    std::vector<float> out(static_cast<size_t>(rows * cols));
    for (int64_t i = 0; i < r; ++i)
        for (int64_t j = 0; j < c; ++j) out[j * cols + i] = t.data[i * c + j];
    std::vector<float>().swap(it->second.data);  // each tensor is bound once: drop the widened copy now
    return out;
}

}  // namespace rwkv
