// The handles the c10d shim hands to Rust: a store and a process group (any backend, with
// the timeout its waits use). Shared by c10d.cpp and, with the nccl feature, c10d_nccl.cpp.
#pragma once

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>

namespace torch_ext {

struct StoreHandle {
  c10::intrusive_ptr<c10d::Store> store;
};

struct GroupHandle {
  c10::intrusive_ptr<c10d::Backend> backend;
  std::chrono::milliseconds timeout;
};

}  // namespace torch_ext
