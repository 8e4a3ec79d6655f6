// Internal to the platform layer: the checks of a regular_only open
// (platform.h), used by OpenFile and RegularFileSize. regular_file_posix.cc
// and regular_file_win32.cc implement them; nothing outside native/platform
// includes this.
#pragma once

#include <string>

#include "platform.h"

namespace clfs {
namespace platform {
namespace regular {

SysError UnsafeFile(int code, const char* syscall, const std::string& detail);

#if defined(_WIN32)

// Paths are UTF-16, as CreateFileW takes them; `error` is a Windows error
// code (a DWORD).

// The error for a CreateFileW of `path` that failed with `error`: kUnsafeFile
// when what the path is explains it (a directory is refused with
// ERROR_ACCESS_DENIED), else the system error.
SysError OpenFailure(const std::wstring& path, unsigned long error);
// Refuses a handle that is not a regular disk file with one link on the
// volume of its directory. Called before anything else is done with it.
SysError CheckOpened(NativeHandle handle, const std::wstring& path);
// After the lock: the path must still name the locked file.
SysError CheckStillNamed(NativeHandle handle, const std::wstring& path);

#else

// The directory a path names a file of, open, so that the checks and the
// open look the name up in the same directory; and the name.
class Directory {
 public:
  Directory() = default;
  ~Directory();
  Directory(const Directory&) = delete;
  Directory& operator=(const Directory&) = delete;

  // Opens the directory part of `path` (following the caller's path: it is
  // theirs to choose). A path whose last component is empty, "." or ".." is
  // a directory: kUnsafeFile.
  SysError Open(const std::string& path);
  // openat(name) with O_NOFOLLOW | O_NONBLOCK | O_NOCTTY added to `flags`;
  // -1 with errno on failure.
  int OpenFile(int flags) const;
  // The error for OpenFile failing with `err`: kUnsafeFile when what the
  // name is explains it (ELOOP for a symbolic link, EISDIR for a directory,
  // ENXIO for a socket, EINVAL for a FIFO or device refusing O_DIRECT).
  SysError OpenFailure(int err) const;
  // Refuses a descriptor OpenFile returned unless it is a regular file with
  // one link on the directory's device and mount; then clears O_NONBLOCK.
  // Called before anything else is done with it.
  SysError CheckOpened(int fd) const;
  // After the lock: the name must still be the locked file.
  SysError CheckStillNamed(int fd) const;
  // The size of the file the name is, checked as CheckOpened checks, without
  // opening it.
  SysError SizeOfName(uint64_t* size) const;
  void Unlink() const;

 private:
  int fd_ = -1;
  std::string name_;
  uint64_t device_ = 0;
  bool has_mount_ = false;
  uint64_t mount_ = 0;
};

#endif

}  // namespace regular
}  // namespace platform
}  // namespace clfs
