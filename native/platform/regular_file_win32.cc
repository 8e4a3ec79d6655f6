// regular_only on Windows (see regular_file.h and platform.h).
//
// FILE_FLAG_OPEN_REPARSE_POINT opens a symbolic link or junction itself
// instead of its target
// (https://learn.microsoft.com/en-us/windows/win32/api/fileapi/nf-fileapi-createfilew);
// the handle is then asked what it is before any I/O or lock: GetFileType
// (FILE_TYPE_DISK for a file; a pipe or a character device is something
// else) and GetFileInformationByHandle (attributes, link count, volume).

#if defined(_WIN32)

#include <errno.h>

#include <string>

#include "../util/assert.h"
#include "regular_file.h"
#include "win32.h"

namespace clfs {
namespace platform {
namespace regular {

using win32::ErrnoFromWin32;
using win32::HandleGuard;
using win32::LastError;
using win32::Win32Error;

namespace {

// The directory part of a path: up to its last separator ("." for a bare name).
std::wstring DirectoryOf(const std::wstring& path) {
  const size_t slash = path.find_last_of(L"\\/");
  if (slash == std::wstring::npos) return L".";
  // Keep the separator of a root: "\\" or "C:\\".
  if (slash == 0 || (slash == 2 && path[1] == L':')) return path.substr(0, slash + 1);
  return path.substr(0, slash);
}

// Opens a file or directory for its attributes only, never following a
// reparse point.
HANDLE OpenForAttributes(const std::wstring& path) {
  return CreateFileW(path.c_str(), FILE_READ_ATTRIBUTES,
                     FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING,
                     FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, nullptr);
}

}  // namespace

SysError UnsafeFile(int code, const char* syscall, const std::string& detail) {
  SysError error = MakeError(code, syscall);
  error.kind = ErrorKind::kUnsafeFile;
  error.detail = detail;
  return error;
}

// The error for an open of `path` that failed with `error`: kUnsafeFile when
// what the path is explains it (a directory is refused with
// ERROR_ACCESS_DENIED), else the system error.
SysError OpenFailure(const std::wstring& path, unsigned long error) {
  const DWORD attributes = GetFileAttributesW(path.c_str());
  if (attributes != INVALID_FILE_ATTRIBUTES) {
    if ((attributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0) {
      return UnsafeFile(ErrnoFromWin32(error), "CreateFileW",
                        "a reparse point (a symbolic link or junction)");
    }
    if ((attributes & FILE_ATTRIBUTE_DIRECTORY) != 0) {
      return UnsafeFile(win32::CreateFileError(path, error).code, "CreateFileW", "a directory");
    }
  }
  return win32::CreateFileError(path, error);
}

// Refuses anything but a regular disk file with one link, on its directory's
// volume. Called before anything else is done with the handle.
SysError CheckOpened(NativeHandle handle, const std::wstring& path) {
  const DWORD type = GetFileType(handle);
  if (type != FILE_TYPE_DISK) {
    if (type == FILE_TYPE_UNKNOWN && GetLastError() != NO_ERROR) return LastError("GetFileType");
    return UnsafeFile(0, "GetFileType",
                      type == FILE_TYPE_PIPE   ? "a pipe"
                      : type == FILE_TYPE_CHAR ? "a character device"
                                               : "not a disk file");
  }
  BY_HANDLE_FILE_INFORMATION info;
  if (!GetFileInformationByHandle(handle, &info)) return LastError("GetFileInformationByHandle");
  if ((info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0) {
    return UnsafeFile(0, "GetFileInformationByHandle",
                      "a reparse point (a symbolic link or junction)");
  }
  if ((info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0) {
    return UnsafeFile(0, "GetFileInformationByHandle", "a directory");
  }
  // Its last name went between the open and now, as POSIX's check says ENOENT:
  // a delete with POSIX semantics (Windows 10 1709 on, and Wine, which unlinks)
  // leaves no link; the older kind leaves the file delete-pending.
  FILE_STANDARD_INFO standard;
  if (info.nNumberOfLinks == 0 ||
      (GetFileInformationByHandleEx(handle, FileStandardInfo, &standard, sizeof standard) &&
       standard.DeletePending)) {
    SysError gone = MakeError(ENOENT, "GetFileInformationByHandle");
    gone.detail = "the file was deleted while it was being opened";
    return gone;
  }
  if (info.nNumberOfLinks != 1) {
    return UnsafeFile(0, "GetFileInformationByHandle",
                      "a regular file with " + std::to_string(info.nNumberOfLinks) +
                          " links (a hard link: another name elsewhere is the same file)");
  }
  HandleGuard dir(OpenForAttributes(DirectoryOf(path)));
  if (!dir.valid()) return LastError("CreateFileW");
  BY_HANDLE_FILE_INFORMATION dir_info;
  if (!GetFileInformationByHandle(dir.get(), &dir_info)) {
    return LastError("GetFileInformationByHandle");
  }
  if (dir_info.dwVolumeSerialNumber != info.dwVolumeSerialNumber) {
    // Wine reports no volume for a file deleted since the open: a file whose
    // name is gone is ENOENT, as above, not a file of another volume.
    const SysError named = CheckStillNamed(handle, path);
    if (named.failed()) return named;
    return UnsafeFile(0, "GetFileInformationByHandle",
                      "a file on another volume than its directory");
  }
  return SysError();
}

// After the lock: the path must still name the locked file (see platform.h).
SysError CheckStillNamed(NativeHandle handle, const std::wstring& path) {
  BY_HANDLE_FILE_INFORMATION held;
  if (!GetFileInformationByHandle(handle, &held)) return LastError("GetFileInformationByHandle");
  HandleGuard named(OpenForAttributes(path));
  BY_HANDLE_FILE_INFORMATION now;
  if (!named.valid()) {
    const DWORD error = GetLastError();
    if (error != ERROR_FILE_NOT_FOUND && error != ERROR_PATH_NOT_FOUND) {
      return Win32Error(error, "CreateFileW");
    }
  } else if (!GetFileInformationByHandle(named.get(), &now)) {
    return LastError("GetFileInformationByHandle");
  }
  if (!named.valid() || now.dwVolumeSerialNumber != held.dwVolumeSerialNumber ||
      now.nFileIndexHigh != held.nFileIndexHigh || now.nFileIndexLow != held.nFileIndexLow) {
    SysError error = MakeError(ENOENT, "CreateFileW");
    error.detail = "the file was removed or renamed while it was being locked";
    return error;
  }
  return SysError();
}

}  // namespace regular

SysError RegularFileSize(const std::string& path, uint64_t* size) {
  CLFS_ASSERT(size != nullptr);
  std::wstring wide;
  SysError error = win32::Utf8ToWide(path, &wide);
  if (error.failed()) return error;
  // No FILE_FLAG_BACKUP_SEMANTICS: a directory is refused, and OpenFailure
  // says so.
  win32::HandleGuard file(CreateFileW(
      wide.c_str(), FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
      nullptr, OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT, nullptr));
  if (!file.valid()) return regular::OpenFailure(wide, GetLastError());
  error = regular::CheckOpened(file.get(), wide);
  if (error.failed()) return error;
  return FileSize(file.get(), size);
}

}  // namespace platform
}  // namespace clfs

#endif  // _WIN32
