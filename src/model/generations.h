#pragma once
// One factory per generation; each lives in its own file (v4.cpp … v7.cpp).
#include <memory>

#include "model/binder.h"
#include "rwkv/model.h"

namespace rwkv {

std::unique_ptr<Model> make_v4(ModelInfo info, const LoadOptions& options, Binder& binder);
std::unique_ptr<Model> make_v5(ModelInfo info, const LoadOptions& options, Binder& binder);
std::unique_ptr<Model> make_v6(ModelInfo info, const LoadOptions& options, Binder& binder);
std::unique_ptr<Model> make_v7(ModelInfo info, const LoadOptions& options, Binder& binder);

}  // namespace rwkv
