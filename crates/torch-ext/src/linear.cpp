// Inference-time dense layers through oneDNN (`mkldnn::_linear_pointwise`, the op
// torch.compile's CPU backend emits for nn.Linear), with an optional activation fused into the
// product. See linear.rs for why.

#include "shim_error.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <optional>

namespace {

using torch_ext::error_message;

using LinearPointwise = at::Tensor(const at::Tensor&, const at::Tensor&,
                                   const std::optional<at::Tensor>&, c10::string_view,
                                   c10::List<std::optional<at::Scalar>>,
                                   std::optional<c10::string_view>);

// The op's handle, or nullopt where this libtorch was built without it.
const std::optional<c10::TypedOperatorHandle<LinearPointwise>>& linear_pointwise() {
  static const auto handle = []() -> std::optional<c10::TypedOperatorHandle<LinearPointwise>> {
    const auto schema =
        c10::Dispatcher::singleton().findSchema({"mkldnn::_linear_pointwise", ""});
    if (!schema.has_value()) return std::nullopt;
    return schema->typed<LinearPointwise>();
  }();
  return handle;
}

bool plain_float(const at::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == at::kFloat &&
         t.layout() == at::kStrided;
}

}  // namespace

extern "C" {

// *out = activation(x · wᵀ + b) through oneDNN when nothing needs a gradient (grad mode off or
// no input requiring one), everything is a float32 CPU tensor, CPU autocast is off and this
// libtorch has the op; otherwise *out stays null and the caller computes it its usual way.
// `bias` may be null. `activation`: 0 none, 1 erf GELU, 2 tanh GELU, 3 ReLU, 4 SiLU.
char* torch_ext_inference_linear(at::Tensor* x, at::Tensor* weight, at::Tensor* bias,
                                 int activation, at::Tensor** out) {
  try {
    *out = nullptr;
    const auto& op = linear_pointwise();
    if (!op.has_value() || !at::globalContext().userEnabledMkldnn()) return nullptr;
    const bool needs_grad = x->requires_grad() || weight->requires_grad() ||
                            (bias != nullptr && bias->requires_grad());
    if (needs_grad && at::GradMode::is_enabled()) return nullptr;
    if (at::autocast::is_autocast_enabled(at::kCPU)) return nullptr;
    if (!plain_float(*x) || !plain_float(*weight) || (bias != nullptr && !plain_float(*bias)))
      return nullptr;
    if (x->dim() < 1 || weight->dim() != 2 || x->size(-1) != weight->size(1) ||
        x->numel() == 0)
      return nullptr;
    const char* attr = "none";
    std::optional<c10::string_view> algorithm = std::nullopt;
    switch (activation) {
      case 0: break;
      case 1: attr = "gelu"; algorithm = "none"; break;
      case 2: attr = "gelu"; algorithm = "tanh"; break;
      case 3: attr = "relu"; break;
      case 4: attr = "swish"; break;
      default: return strdup("torch_ext_inference_linear: unknown activation code");
    }
    // The result only ever feeds inference; never let it into an autograd graph.
    at::AutoDispatchBelowADInplaceOrView no_autograd;
    std::optional<at::Tensor> b;
    if (bias != nullptr) b = bias->contiguous();
    c10::List<std::optional<at::Scalar>> scalars;
    scalars.push_back(std::nullopt);
    *out = new at::Tensor(op->call(x->contiguous(), weight->contiguous(), b, attr, scalars,
                                   algorithm));
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

}  // extern "C"
