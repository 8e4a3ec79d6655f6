// Errors crossing into JavaScript: every one a ClfsError with a `code`.
#pragma once

#include <napi.h>

#include <string>

#include "../platform/platform.h"

namespace clfs {
namespace binding {

// A ClfsError (or, before Init, an Error) with the code and message; extra
// properties are copied from `details` when it is an object.
Napi::Error MakeClfsError(Napi::Env env, const char* code, const std::string& message,
                          Napi::Object details = Napi::Object());

// A system error shaped like Node's fs errors: code "EIO", errno -5,
// syscall, path, and message "EIO: i/o error, pwritev '/path'".
// Locked, direct-I/O-unsupported and unsafe-file failures get their
// ERR_CLFS_* codes.
Napi::Error MakeSystemError(Napi::Env env, const platform::SysError& error,
                            const std::string& path);

// Throws a ClfsError from a binding function.
[[noreturn]] void Throw(Napi::Env env, const char* code, const std::string& message);

}  // namespace binding
}  // namespace clfs
