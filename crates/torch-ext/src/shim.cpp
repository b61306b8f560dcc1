// C entry points for the libtorch functions tch 0.24 does not expose. Tensors arrive as tch's
// handles (`at::Tensor*`). Every function catches C++ exceptions and returns the message
// (malloc'd, freed by torch_ext_free_error) or nullptr on success.

#include "shim_error.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

using torch_ext::error_message;

at::DeviceType device_type(int device) { return device == 1 ? at::kCUDA : at::kCPU; }

std::vector<at::Tensor> tensors(at::Tensor** handles, size_t n) {
  std::vector<at::Tensor> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(*handles[i]);
  return out;
}

}  // namespace

extern "C" {

void torch_ext_free_error(char* message) { free(message); }

// Sets autocast for one device type (0 cpu, 1 cuda) and its dtype (a c10::ScalarType), and
// reports the previous setting so the caller can restore it.
char* torch_ext_autocast_set(int device, bool enabled, int dtype, bool* prev_enabled,
                             int* prev_dtype) {
  try {
    const auto type = device_type(device);
    *prev_enabled = at::autocast::is_autocast_enabled(type);
    *prev_dtype = static_cast<int>(at::autocast::get_autocast_dtype(type));
    at::autocast::set_autocast_dtype(type, static_cast<at::ScalarType>(dtype));
    at::autocast::set_autocast_enabled(type, enabled);
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

void torch_ext_autocast_enter() { at::autocast::increment_nesting(); }

// Leaving the outermost autocast region drops the cached casts of the weights.
void torch_ext_autocast_exit() {
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
}

// One AdamW step over n parameters in one kernel pass per tensor: decoupled weight decay,
// moment updates and the bias-corrected step, as torch.optim.AdamW(fused=True). `steps` are
// float scalars holding the step number already incremented for this update.
char* torch_ext_fused_adamw(at::Tensor** params, at::Tensor** grads, at::Tensor** exp_avgs,
                            at::Tensor** exp_avg_sqs, at::Tensor** steps, size_t n, double lr,
                            double beta1, double beta2, double weight_decay, double eps) {
  try {
    const auto p = tensors(params, n);
    const auto g = tensors(grads, n);
    const auto m = tensors(exp_avgs, n);
    const auto v = tensors(exp_avg_sqs, n);
    const auto s = tensors(steps, n);
    at::_fused_adamw_(p, g, m, v, {}, s, lr, beta1, beta2, weight_decay, eps,
                      /*amsgrad=*/false, /*maximize=*/false);
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

// Replaces a tensor's gradient (`param.grad = grad` in Python).
char* torch_ext_set_grad(at::Tensor* param, at::Tensor* grad) {
  try {
    param->mutable_grad() = *grad;
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

// Starts recording every libtorch op (with input shapes) into a Chrome trace written to `path`
// when the returned handle is passed to torch_ext_profile_end.
void* torch_ext_profile_begin(const char* path, char** error) {
  try {
    *error = nullptr;
    return new torch::autograd::profiler::RecordProfile(std::string(path));
  } catch (const std::exception& e) {
    *error = error_message(e);
    return nullptr;
  }
}

char* torch_ext_profile_end(void* handle) {
  try {
    delete static_cast<torch::autograd::profiler::RecordProfile*>(handle);
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

}  // extern "C"
