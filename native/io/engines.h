// The engine implementations, for CreateEngine.
#pragma once

#include <memory>
#include <string>

#include "engine.h"

namespace clfs {
namespace io {

// Portable: `depth` worker threads doing blocking system calls.
std::unique_ptr<Engine> CreateThreadEngine(uint32_t depth, Completion completion);

// Linux io_uring: one thread keeps up to `depth` requests in the kernel at once.
// Null, with a reason, where the kernel or a sandbox does not allow it.
std::unique_ptr<Engine> CreateUringEngine(uint32_t depth, Completion completion,
                                          std::string* why_not);

}  // namespace io
}  // namespace clfs
