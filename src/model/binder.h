#pragma once
// Fetches a model's tensors from a loaded file with their expected sizes, so a file with a missing
// or misshapen tensor fails at load with a message naming the file and the tensor.
#include <set>
#include <string>
#include <vector>

#include "core/huge_arena.h"
#include "kernels/matrix.h"
#include "rwkv/tensor.h"

namespace rwkv {

class Binder {
public:
    explicit Binder(TensorFile& file) : file_(file) {}

    bool has(const std::string& name) const { return file_.has(name); }
    // detect.h's any_layer_has on this file.
    bool any_layer_has(int64_t n_layer, const std::string& suffix) const;
    const Tensor& tensor(const std::string& name) const { return file_.get(name); }
    // A tensor of exactly n elements, whatever its (squeezable) shape; its data is moved out.
    std::vector<float> vec(const std::string& name, int64_t n);
    // A per-head parameter of H heads × N values: besides the element count, the shape itself (axes of size 1
    // aside) must be [H, N], so a file whose layers disagree on the head size is refused.
    std::vector<float> heads(const std::string& name, int64_t H, int64_t N);
    // A [rows, cols] matrix; with `transposed`, the file holds it as [cols, rows].
    std::vector<float> mat(const std::string& name, int64_t rows, int64_t cols, bool transposed = false);
    // A projection [rows, cols]; weights held in place stay in their stored type.
    Matrix linear(const std::string& name, int64_t rows, int64_t cols);
    // A small matrix read transposed or not (the v6/v7 LoRAs), held in its stored half type when it has one
    // (exact: the values came from it), else in fp32.
    Matrix small_matrix(const std::string& name, int64_t rows, int64_t cols, bool transposed);
    // A table read one row per token (the embedding): only a row counts towards bytes_per_token().
    Matrix lookup_table(const std::string& name, int64_t rows, int64_t cols);
    // Bytes of weights a token reads, over everything bound so far, in the form it is held in memory.
    int64_t bytes_per_token() const { return bytes_per_token_; }
    [[noreturn]] void fail(const std::string& name, const std::string& why) const;
    // A tensor the generation's official code also leaves unused (RWKV-7's layer-0 value LoRA): not an error.
    void skip(const std::string& name) { bound_.insert(name); }
    // Strict loading: an error naming the first tensor of the file nothing bound or skipped (a tensor of another
    // generation or variant, which the model would otherwise silently run without).
    void check_all_bound(const std::string& generation) const;
    const std::string& path() const { return file_.path; }

private:
    Matrix bind_matrix(const std::string& name, int64_t rows, int64_t cols);  // counts nothing
    std::vector<float> widen(const std::string& name, int64_t rows, int64_t cols, bool transposed);  // nor this

    TensorFile& file_;
    std::set<std::string> bound_;
    HugeArena arena_;  // the copies made at load: re-laid q4_0 projections, the LoRAs
    int64_t bytes_per_token_ = 0;
};

}  // namespace rwkv
