// c10d, PyTorch's distributed engine, which libtorch contains and tch does not bind: stores for
// rendezvous (TCPStore, FileStore, PrefixStore), the Gloo process group and its collectives,
// and an all-gather that autograd can differentiate (reduce-scatter backward). Handles are
// heap-allocated wrappers owned by the Rust side; errors follow shim_error.h.

#include "c10d_handles.h"
#include "shim_error.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using torch_ext::error_message;
using torch_ext::GroupHandle;
using torch_ext::StoreHandle;

std::vector<at::Tensor> tensors(at::Tensor** handles, size_t n) {
  std::vector<at::Tensor> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(*handles[i]);
  return out;
}

c10d::ReduceOp reduce_op(int op) {
  switch (op) {
    case 0:
      return c10d::ReduceOp::SUM;
    case 1:
      return c10d::ReduceOp::MAX;
    case 2:
      return c10d::ReduceOp::MIN;
    default:
      throw std::invalid_argument("unknown reduce op " + std::to_string(op));
  }
}

// Waits for a collective; a false return (the work's own timeout) becomes an error too.
void wait(const GroupHandle& group, const c10::intrusive_ptr<c10d::Work>& work,
          const char* what) {
  if (!work->wait(group.timeout)) {
    throw std::runtime_error(std::string(what) + " did not finish within " +
                             std::to_string(group.timeout.count()) + " ms");
  }
}

// Row counts of every rank's tensor (dim 0), gathered so ranks may hold different batches.
std::vector<int64_t> gather_rows(const GroupHandle& group, const at::Tensor& input) {
  const int world = group.backend->getSize();
  // On the input's device: NCCL reduces device tensors only.
  auto mine = at::full({1}, input.size(0), input.options().dtype(at::kLong));
  std::vector<at::Tensor> all;
  for (int r = 0; r < world; ++r) all.push_back(at::empty({1}, mine.options()));
  std::vector<std::vector<at::Tensor>> outputs{all};
  std::vector<at::Tensor> inputs{mine};
  wait(group, group.backend->allgather(outputs, inputs), "all-gather of row counts");
  std::vector<int64_t> rows;
  for (const auto& t : outputs[0]) rows.push_back(t.item<int64_t>());
  return rows;
}

// Pads dim 0 to `rows` with zeros (Gloo's all-gather and reduce-scatter need equal shapes).
at::Tensor pad_rows(const at::Tensor& t, int64_t rows) {
  if (t.size(0) == rows) return t.contiguous();
  auto sizes = t.sizes().vec();
  sizes[0] = rows - t.size(0);
  return at::cat({t, at::zeros(sizes, t.options())}, 0).contiguous();
}

at::Tensor gather_cat(const GroupHandle& group, const at::Tensor& input,
                      const std::vector<int64_t>& rows) {
  const int64_t most = *std::max_element(rows.begin(), rows.end());
  auto padded = pad_rows(input.detach(), most);
  std::vector<at::Tensor> all;
  for (size_t r = 0; r < rows.size(); ++r) all.push_back(at::empty_like(padded));
  std::vector<std::vector<at::Tensor>> outputs{all};
  std::vector<at::Tensor> inputs{padded};
  wait(group, group.backend->allgather(outputs, inputs), "all-gather");
  std::vector<at::Tensor> parts;
  for (size_t r = 0; r < rows.size(); ++r) parts.push_back(outputs[0][r].narrow(0, 0, rows[r]));
  return at::cat(parts, 0);
}

// Backward of the differentiable all-gather: every rank's loss may depend on every rank's
// rows, so a rank's gradient is the sum over ranks of the gradient slices for its rows — a
// reduce-scatter (sum) of the gathered gradient.
struct AllGatherBackward : public torch::autograd::Node {
  GroupHandle group;
  std::vector<int64_t> rows;
  // The gathered tensor's shape and options: a gradient autograd leaves undefined is zeros
  // here, so every rank still joins the reduce-scatter instead of leaving the others waiting.
  std::vector<int64_t> gathered_sizes;
  at::TensorOptions options;

  torch::autograd::variable_list apply(torch::autograd::variable_list&& grads) override {
    const int rank = group.backend->getRank();
    const int64_t most = *std::max_element(rows.begin(), rows.end());
    const auto grad =
        grads[0].defined() ? grads[0].contiguous() : at::zeros(gathered_sizes, options);
    std::vector<at::Tensor> inputs;
    int64_t start = 0;
    for (const auto r : rows) {
      inputs.push_back(pad_rows(grad.narrow(0, start, r), most));
      start += r;
    }
    auto out = at::empty_like(inputs[0]);
    std::vector<at::Tensor> outputs{out};
    std::vector<std::vector<at::Tensor>> input_lists{inputs};
    c10d::ReduceScatterOptions opts;
    opts.reduceOp = c10d::ReduceOp::SUM;
    wait(group, group.backend->reduce_scatter(outputs, input_lists, opts),
         "reduce-scatter of all-gather gradients");
    return {out.narrow(0, 0, rows[rank])};
  }
};

}  // namespace

extern "C" {

// A TCPStore: rank 0 serves on `port` (0 asks the OS for a free one; the port taken is written
// back), the others connect to `host:port`. `timeout_ms` bounds connecting and every wait.
char* torch_ext_store_tcp(const char* host, int* port, int world_size, bool is_server,
                          int64_t timeout_ms, void** out) {
  try {
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<uint16_t>(*port);
    opts.isServer = is_server;
    opts.numWorkers = world_size;
    opts.waitWorkers = false;
    opts.timeout = std::chrono::milliseconds(timeout_ms);
    auto store = c10::make_intrusive<c10d::TCPStore>(std::string(host), opts);
    *port = store->getPort();
    *out = new StoreHandle{store};
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

char* torch_ext_store_file(const char* path, int world_size, int64_t timeout_ms, void** out) {
  try {
    auto store = c10::make_intrusive<c10d::FileStore>(std::string(path), world_size);
    store->setTimeout(std::chrono::milliseconds(timeout_ms));
    *out = new StoreHandle{store};
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

// A view of `store` whose keys all start with `prefix` (the same store underneath).
char* torch_ext_store_prefix(void* store, const char* prefix, void** out) {
  try {
    auto base = static_cast<StoreHandle*>(store)->store;
    *out = new StoreHandle{c10::make_intrusive<c10d::PrefixStore>(std::string(prefix), base)};
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

void torch_ext_store_free(void* store) { delete static_cast<StoreHandle*>(store); }

char* torch_ext_store_set(void* store, const char* key, const uint8_t* data, size_t len) {
  try {
    std::vector<uint8_t> value(data, data + len);
    static_cast<StoreHandle*>(store)->store->set(std::string(key), value);
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

// Waits (up to the store's timeout) for `key` and returns its value, malloc'd.
char* torch_ext_store_get(void* store, const char* key, uint8_t** data, size_t* len) {
  try {
    auto value = static_cast<StoreHandle*>(store)->store->get(std::string(key));
    *len = value.size();
    *data = static_cast<uint8_t*>(malloc(value.size() == 0 ? 1 : value.size()));
    if (*data == nullptr) throw std::bad_alloc();
    if (!value.empty()) std::memcpy(*data, value.data(), value.size());
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

void torch_ext_free_bytes(uint8_t* data) { free(data); }

char* torch_ext_store_add(void* store, const char* key, int64_t delta, int64_t* out) {
  try {
    *out = static_cast<StoreHandle*>(store)->store->add(std::string(key), delta);
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

// Whether every key is set, without waiting.
char* torch_ext_store_check(void* store, const char** keys, size_t n, bool* out) {
  try {
    std::vector<std::string> names;
    for (size_t i = 0; i < n; ++i) names.emplace_back(keys[i]);
    *out = static_cast<StoreHandle*>(store)->store->check(names);
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

// A Gloo process group over `store` (already prefixed by the caller), connecting through the
// interface that `hostname` resolves to.
char* torch_ext_group_gloo(void* store, int rank, int size, int64_t timeout_ms,
                           const char* hostname, int threads, void** out) {
  try {
    // c10d's flight recorder (a trace buffer for debugging NCCL hangs) is process-global;
    // with two Gloo groups in one process enqueuing at once it was seen spinning forever in
    // its record call. Off unless the user asks for it.
    setenv("TORCH_FR_BUFFER_SIZE", "0", /*overwrite=*/0);
    auto timeout = std::chrono::milliseconds(timeout_ms);
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    opts->devices.push_back(
        c10d::ProcessGroupGloo::createDeviceForHostname(std::string(hostname)));
    opts->threads = threads;
    auto base = static_cast<StoreHandle*>(store)->store;
    auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(base, rank, size, opts);
    *out = new GroupHandle{pg, timeout};
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

void torch_ext_group_free(void* group) { delete static_cast<GroupHandle*>(group); }

char* torch_ext_group_allreduce(void* group, at::Tensor** handles, size_t n, int op) {
  try {
    auto& g = *static_cast<GroupHandle*>(group);
    auto ts = tensors(handles, n);
    c10d::AllreduceOptions opts;
    opts.reduceOp = reduce_op(op);
    wait(g, g.backend->allreduce(ts, opts), "all-reduce");
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

char* torch_ext_group_broadcast(void* group, at::Tensor** handles, size_t n, int root) {
  try {
    auto& g = *static_cast<GroupHandle*>(group);
    auto ts = tensors(handles, n);
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    wait(g, g.backend->broadcast(ts, opts), "broadcast");
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

// Every rank's `input` into `outputs` (one per rank, each shaped like `input`).
char* torch_ext_group_allgather(void* group, at::Tensor* input, at::Tensor** outputs, size_t n) {
  try {
    auto& g = *static_cast<GroupHandle*>(group);
    std::vector<std::vector<at::Tensor>> outs{tensors(outputs, n)};
    std::vector<at::Tensor> ins{*input};
    wait(g, g.backend->allgather(outs, ins), "all-gather");
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

// `output` becomes the reduction over ranks of their `inputs[rank]`.
char* torch_ext_group_reduce_scatter(void* group, at::Tensor* output, at::Tensor** inputs,
                                     size_t n, int op) {
  try {
    auto& g = *static_cast<GroupHandle*>(group);
    std::vector<at::Tensor> outs{*output};
    std::vector<std::vector<at::Tensor>> ins{tensors(inputs, n)};
    c10d::ReduceScatterOptions opts;
    opts.reduceOp = reduce_op(op);
    wait(g, g.backend->reduce_scatter(outs, ins, opts), "reduce-scatter");
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

char* torch_ext_group_barrier(void* group) {
  try {
    auto& g = *static_cast<GroupHandle*>(group);
    wait(g, g.backend->barrier(), "barrier");
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

// Rows of every rank's `input` concatenated in rank order (ranks may hold different row
// counts), differentiable: the gradient of a rank's rows is the sum over ranks of theirs.
char* torch_ext_group_all_gather_autograd(void* group, at::Tensor* input, at::Tensor** out) {
  try {
    auto& g = *static_cast<GroupHandle*>(group);
    auto rows = gather_rows(g, *input);
    at::Tensor gathered;
    {
      at::NoGradGuard no_grad;
      gathered = gather_cat(g, *input, rows);
    }
    if (torch::autograd::GradMode::is_enabled() && input->requires_grad()) {
      auto node = std::shared_ptr<AllGatherBackward>(new AllGatherBackward(),
                                                     torch::autograd::deleteNode);
      node->group = g;
      node->rows = rows;
      node->gathered_sizes = gathered.sizes().vec();
      node->options = gathered.options();
      node->set_next_edges(torch::autograd::collect_next_edges(*input));
      torch::autograd::set_history(gathered, node);
    }
    *out = new at::Tensor(std::move(gathered));
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e);
  }
}

}  // extern "C"
