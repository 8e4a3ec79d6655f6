// regularFileSize(path): the size of a file that must pass the checks of a
// regularOnly open, without opening it (for checking many files cheaply:
// every container of a log when it opens).
#pragma once

#include <napi.h>

namespace clfs {
namespace binding {

void RegisterRegularFile(Napi::Env env, Napi::Object exports);

}  // namespace binding
}  // namespace clfs
