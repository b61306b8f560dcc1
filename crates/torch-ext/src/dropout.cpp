// Dropout masks drawn on every intra-op thread. libtorch's CPU bernoulli_ is a serial
// Mersenne-Twister loop except on Intel CPUs with MKL (about 7 ns an element on one core, with
// the other cores waiting): a training step of all-MiniLM-L6-v2 spent about a tenth of its time
// there, most of it on the attention probabilities' dropout. Here each element's draw is a
// counter-based hash of (seed, index), so any thread can draw any element; the seed itself
// comes from libtorch's CPU generator, so `manual_seed` still fixes every mask and a resumed
// run draws the same ones.

#include "shim_error.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>

namespace {

using torch_ext::error_message;

// SplitMix64's output function: element pairs are the positions of one SplitMix64 stream.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t draw_seed() {
  auto gen = at::get_generator_or_default<at::CPUGeneratorImpl>(
      std::nullopt, at::detail::getDefaultCPUGenerator());
  std::lock_guard<std::mutex> lock(gen->mutex_);
  return gen->random64();
}

// A contiguous tensor of `sizes` and `dtype` whose elements are 1/(1-p) with probability 1-p
// and 0 otherwise: what inverted dropout multiplies by. Each 64-bit draw decides two elements
// (32 bits each, compared against (1-p)·2³²).
at::Tensor keep_scale_mask(at::IntArrayRef sizes, at::ScalarType dtype, double p, uint64_t seed) {
  TORCH_CHECK(p >= 0.0 && p < 1.0, "dropout probability must be in [0, 1), got ", p);
  auto mask = at::empty(sizes, at::TensorOptions().dtype(dtype));
  const int64_t n = mask.numel();
  const uint64_t threshold = static_cast<uint64_t>(std::llround((1.0 - p) * 4294967296.0));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, dtype, "keep_scale_mask", [&] {
    scalar_t* data = mask.data_ptr<scalar_t>();
    const scalar_t kept = static_cast<scalar_t>(1.0 / (1.0 - p));
    const scalar_t dropped = static_cast<scalar_t>(0.0);
    at::parallel_for(0, (n + 1) / 2, 16384, [&](int64_t begin, int64_t end) {
      for (int64_t pair = begin; pair < end; ++pair) {
        const uint64_t h = mix64(seed + static_cast<uint64_t>(pair + 1) * 0x9E3779B97F4A7C15ULL);
        const int64_t i = 2 * pair;
        data[i] = (h & 0xFFFFFFFFULL) < threshold ? kept : dropped;
        if (i + 1 < n) data[i + 1] = (h >> 32) < threshold ? kept : dropped;
      }
    });
  });
  return mask;
}

// softmax(q·kᵀ/√d + mask) · keep · v, the operations of libtorch's math attention kernel (the
// one it runs on the CPU when training with attention dropout): scale split over q and k,
// reduced-precision inputs computed in float32, rows with no allowed key all zeros.
at::Tensor attention_times(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in,
                           const at::Tensor* attn_mask, const at::Tensor& keep) {
  const auto origin = q_in.scalar_type();
  const bool widen = origin == at::kBFloat16 || origin == at::kHalf;
  const auto q = widen ? q_in.to(at::kFloat) : q_in;
  const auto k = widen ? k_in.to(at::kFloat) : k_in;
  const auto v = widen ? v_in.to(at::kFloat) : v_in;
  const double half_scale = std::sqrt(1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  auto scores = at::matmul(q * half_scale, k.transpose(-2, -1) * half_scale);
  if (attn_mask != nullptr && attn_mask->defined()) {
    if (attn_mask->scalar_type() == at::kBool) {
      scores = scores.masked_fill(attn_mask->logical_not(),
                                  -std::numeric_limits<double>::infinity());
    } else {
      scores = scores + *attn_mask;
    }
  }
  auto probs = at::_safe_softmax(scores, -1);
  return at::matmul(probs * keep.to(probs.scalar_type()), v).to(origin);
}

}  // namespace

extern "C" {

// *out = input · mask with a fresh keep-and-scale mask in the input's dtype (CPU tensors).
char* torch_ext_dropout(at::Tensor* input, double p, at::Tensor** out) {
  try {
    const auto& x = *input;
    TORCH_CHECK(x.device().is_cpu(), "torch_ext_dropout draws CPU masks only");
    const auto mask = keep_scale_mask(x.sizes(), x.scalar_type(), p, draw_seed());
    *out = new at::Tensor(x * mask);
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

// Attention `[batch, heads, seq_q, dim]` with dropout `p` on its probabilities, as
// scaled_dot_product_attention(q, k, v, attn_mask, p) on the CPU, autocast included: under
// CPU autocast the inputs are cast to its dtype and the kernel runs outside autocast.
// `attn_mask` may be null; `keep` (optional, for tests) replaces the drawn keep-and-scale mask.
char* torch_ext_attention_dropout(at::Tensor* q, at::Tensor* k, at::Tensor* v,
                                  at::Tensor* attn_mask, double p, at::Tensor* keep,
                                  at::Tensor** out) {
  try {
    TORCH_CHECK(q->dim() == 4 && k->dim() == 4 && v->dim() == 4,
                "attention expects q, k and v as [batch, heads, seq, head_dim]");
    TORCH_CHECK(q->device().is_cpu(), "torch_ext_attention_dropout draws CPU masks only");
    at::Tensor query = *q, key = *k, value = *v;
    if (at::autocast::is_autocast_enabled(at::kCPU)) {
      const auto dtype = at::autocast::get_autocast_dtype(at::kCPU);
      auto lower = [&](const at::Tensor& t) {
        return t.is_floating_point() && t.scalar_type() != at::kDouble ? t.to(dtype) : t;
      };
      query = lower(query);
      key = lower(key);
      value = lower(value);
    }
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
    const auto scores_dtype =
        query.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
    const auto mask =
        keep != nullptr
            ? *keep
            : keep_scale_mask({query.size(0), query.size(1), query.size(2), key.size(2)},
                              scores_dtype, p, draw_seed());
    *out = new at::Tensor(attention_times(query, key, value, attn_mask, mask));
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

}  // extern "C"
