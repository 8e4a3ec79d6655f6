// Internal to the platform layer on Windows: <windows.h> as win32.cc and
// regular_file_win32.cc need it, and what they share (Windows errors as
// errno values, UTF-8 paths as UTF-16, a handle that closes itself).
#pragma once

#if defined(_WIN32)

#if !defined(WIN32_LEAN_AND_MEAN)
#define WIN32_LEAN_AND_MEAN 1
#endif
#if !defined(NOMINMAX)
#define NOMINMAX 1
#endif

// FILE_STORAGE_INFO and FileStorageInfo are declared from Windows 8 on.
#if defined(_WIN32_WINNT) && _WIN32_WINNT < 0x0602
#error "the platform layer needs _WIN32_WINNT >= 0x0602 (Windows 8) for FILE_STORAGE_INFO"
#endif
#if !defined(_WIN32_WINNT)
#define _WIN32_WINNT 0x0602
#endif

#include <windows.h>

#include <string>

#include "platform.h"

namespace clfs {
namespace platform {
namespace win32 {

// A Windows system error code as the errno value platform.h promises.
int ErrnoFromWin32(DWORD error);
// A failed call's error with the Windows code kept in the detail: several
// Windows codes share one errno value.
SysError Win32Error(DWORD error, const char* syscall);
SysError LastError(const char* syscall);
// The error of a CreateFileW of `path` that failed with `error`, as open()
// would say it: EISDIR for a directory.
SysError CreateFileError(const std::wstring& path, DWORD error);
// A UTF-8 path as CreateFileW takes it (ending at its first NUL, as open()
// sees it on POSIX).
SysError Utf8ToWide(const std::string& path, std::wstring* wide);

// The handle closes when this goes out of scope unless released.
class HandleGuard {
 public:
  explicit HandleGuard(HANDLE handle) : handle_(handle) {}
  ~HandleGuard() {
    if (valid()) CloseHandle(handle_);
  }
  HandleGuard(const HandleGuard&) = delete;
  HandleGuard& operator=(const HandleGuard&) = delete;
  bool valid() const { return handle_ != INVALID_HANDLE_VALUE && handle_ != nullptr; }
  HANDLE get() const { return handle_; }
  HANDLE release() {
    HANDLE handle = handle_;
    handle_ = INVALID_HANDLE_VALUE;
    return handle;
  }
  void reset(HANDLE handle) {
    if (valid()) CloseHandle(handle_);
    handle_ = handle;
  }

 private:
  HANDLE handle_;
};

}  // namespace win32
}  // namespace platform
}  // namespace clfs

#endif  // _WIN32
