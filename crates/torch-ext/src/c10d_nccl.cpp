// ProcessGroupNCCL (libtorch_cuda.so), compiled only with the `nccl` feature on a machine set
// up with `cargo xtask setup --cuda`: CUDA tensors reduced by NCCL. The collectives are
// c10d.cpp's, which take any backend.

#include "c10d_handles.h"
#include "shim_error.h"

#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include <chrono>

extern "C" {

char* torch_ext_group_nccl(void* store, int rank, int size, int64_t timeout_ms, void** out) {
  try {
    auto timeout = std::chrono::milliseconds(timeout_ms);
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = timeout;
    auto base = static_cast<torch_ext::StoreHandle*>(store)->store;
    auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(base, rank, size, opts);
    *out = new torch_ext::GroupHandle{pg, timeout};
    return nullptr;
  } catch (const std::exception& e) {
    return torch_ext::error_message(e);
  }
}

}  // extern "C"
