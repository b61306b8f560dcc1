// The shim's error convention: every C entry point catches C++ exceptions and returns the
// message (malloc'd, freed by torch_ext_free_error), or nullptr on success.
#pragma once

#include <cstring>
#include <exception>

namespace torch_ext {

inline char* error_message(const std::exception& e) { return strdup(e.what()); }

}  // namespace torch_ext
