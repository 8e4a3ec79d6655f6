// The platform layer on Windows. See platform.h for the contract.
//
// Direct I/O: CreateFileW with FILE_FLAG_NO_BUFFERING turns the system cache
// off for the handle. Every transfer's offset and length must then be a
// multiple of the volume's sector size, and buffers should be aligned to the
// physical sector size; GetFileInformationByHandleEx(FileStorageInfo) says what
// those are (https://learn.microsoft.com/en-us/windows/win32/fileio/file-buffering).
// There is no pwritev: the slices go out one WriteFile each, positioned by the
// OVERLAPPED offset. Windows error codes are translated to errno values in one
// place, ErrnoFromWin32, so the binding sees the same codes on every platform;
// where one Windows code means what POSIX says with another errno value
// depending on the call (ERROR_ACCESS_DENIED for a directory, or for a write
// through a read-only handle), the call site says which, as libuv does for
// Node's fs. test/native/platform_program.cc checks the codes on both.
#if defined(_WIN32)

#include <errno.h>
#include <malloc.h>  // _aligned_malloc
#include <stddef.h>  // offsetof
#include <string.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

#include "../util/assert.h"
#include "platform.h"
#include "regular_file.h"
#include "win32.h"

// After <windows.h> (win32.h), which it needs.
#include <winioctl.h>  // IOCTL_STORAGE_QUERY_PROPERTY

// Newer than some SDKs' winerror.h (MinGW-w64's lacks it).
#if !defined(ERROR_OFFSET_ALIGNMENT_VIOLATION)
#define ERROR_OFFSET_ALIGNMENT_VIOLATION 327L
#endif

namespace clfs {
namespace platform {

static_assert(sizeof(NativeHandle) == sizeof(HANDLE), "NativeHandle must hold a HANDLE");

// MakeError and ErrnoName are in errors.cc, shared with posix.cc.

std::string ErrnoMessage(int code) {
  char buffer[256];
  buffer[0] = '\0';
  if (strerror_s(buffer, sizeof buffer, code) != 0) return "unknown error";
  return std::string(buffer);
}

namespace win32 {

// Windows system error codes
// (https://learn.microsoft.com/en-us/windows/win32/debug/system-error-codes) as
// the errno values platform.h promises.
int ErrnoFromWin32(DWORD error) {
  switch (error) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_NAME:  // what Node's fs reports for it too (libuv maps it so)
    case ERROR_BAD_PATHNAME:
    case ERROR_INVALID_DRIVE:
    case ERROR_BAD_NETPATH:
    case ERROR_BAD_NET_NAME:
    case ERROR_DELETE_PENDING:  // being deleted: gone, as an unlinked file is on POSIX
      return ENOENT;
    case ERROR_ACCESS_DENIED:  // a directory is EISDIR, a read-only handle EBADF: see the callers
    case ERROR_CANT_ACCESS_FILE:
      return EACCES;
    case ERROR_PRIVILEGE_NOT_HELD:
      return EPERM;
    case ERROR_DIRECTORY:  // a file name where a directory was needed
      return ENOTDIR;
    case ERROR_DIR_NOT_EMPTY:
      return ENOTEMPTY;
    case ERROR_NOT_SAME_DEVICE:
      return EXDEV;
    case ERROR_TOO_MANY_LINKS:
      return EMLINK;
    case ERROR_CANT_RESOLVE_FILENAME:  // too many reparse points, as too many symbolic links
      return ELOOP;
    case ERROR_FILE_TOO_LARGE:
      return EFBIG;
    case ERROR_NOACCESS:  // a buffer the kernel cannot read or write
    case ERROR_INVALID_USER_BUFFER:
    case ERROR_INVALID_ADDRESS:
      return EFAULT;
    case ERROR_BROKEN_PIPE:
      return EPIPE;
    case ERROR_SEM_TIMEOUT:
      return ETIMEDOUT;
    case ERROR_SHARING_VIOLATION:  // another handle's share mode excludes this open
      return EBUSY;
    case ERROR_LOCK_VIOLATION:  // a range another handle has locked, as EAGAIN for
      return EWOULDBLOCK;       // POSIX mandatory locks
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
      return EEXIST;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
      return ENOSPC;
    case ERROR_INVALID_PARAMETER:           // also a misaligned FILE_FLAG_NO_BUFFERING transfer, as
    case ERROR_OFFSET_ALIGNMENT_VIOLATION:  // O_DIRECT's EINVAL; so is this, from some stacks
    case ERROR_NEGATIVE_SEEK:
    case ERROR_NO_UNICODE_TRANSLATION:
      return EINVAL;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_WORKING_SET_QUOTA:
    case ERROR_NOT_ENOUGH_QUOTA:
    case ERROR_NO_SYSTEM_RESOURCES:
    case ERROR_COMMITMENT_LIMIT:
      return ENOMEM;
    case ERROR_INVALID_HANDLE:
      return EBADF;
    case ERROR_NOT_SUPPORTED:
    case ERROR_INVALID_FUNCTION:
      return ENOTSUP;
    case ERROR_CALL_NOT_IMPLEMENTED:
      return ENOSYS;
    case ERROR_TOO_MANY_OPEN_FILES:
      return EMFILE;
    case ERROR_FILENAME_EXCED_RANGE:
      return ENAMETOOLONG;
    case ERROR_WRITE_PROTECT:
      return EROFS;
    case ERROR_NOT_READY:  // removable media gone, a volume dismounted
    case ERROR_DEVICE_NOT_CONNECTED:
    case ERROR_DEV_NOT_EXIST:
      return ENODEV;
    case ERROR_OPERATION_ABORTED:
      return ECANCELED;
    case ERROR_CRC:
    case ERROR_IO_DEVICE:
    default:
      return EIO;
  }
}

// A failed call's error with the Windows code kept in the detail: several
// Windows codes share one errno value.
SysError Win32Error(DWORD error, const char* syscall) {
  SysError result = MakeError(ErrnoFromWin32(error), syscall);
  char text[48];
  snprintf(text, sizeof text, "Windows error %lu", static_cast<unsigned long>(error));
  result.detail = text;
  return result;
}

SysError LastError(const char* syscall) { return Win32Error(GetLastError(), syscall); }

SysError CreateFileError(const std::wstring& path, DWORD error) {
  SysError result = Win32Error(error, "CreateFileW");
  // CreateFileW refuses a directory (opened without FILE_FLAG_BACKUP_SEMANTICS)
  // with ERROR_ACCESS_DENIED; open() says EISDIR, and libuv reports it so.
  if (error == ERROR_ACCESS_DENIED) {
    const DWORD attributes = GetFileAttributesW(path.c_str());
    if (attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_DIRECTORY) != 0) {
      result.code = EISDIR;
    }
  }
  return result;
}

SysError Utf8ToWide(const std::string& path, std::wstring* wide) {
  // Length -1: the path ends at its first NUL, as open() sees it on POSIX.
  int count = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path.c_str(), -1, nullptr, 0);
  if (count <= 0) return LastError("MultiByteToWideChar");
  wide->assign(static_cast<size_t>(count), L'\0');
  if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path.c_str(), -1, &(*wide)[0], count) !=
      count) {
    return LastError("MultiByteToWideChar");
  }
  wide->resize(static_cast<size_t>(count) - 1);  // drop the terminator counted above
  return SysError();
}

}  // namespace win32

using win32::CreateFileError;
using win32::ErrnoFromWin32;
using win32::HandleGuard;
using win32::LastError;
using win32::Utf8ToWide;
using win32::Win32Error;

namespace {

// The most one ReadFile or WriteFile is asked to move: the length is a DWORD,
// and 1 GiB is a multiple of every sector size, so a capped transfer keeps the
// next offset aligned for FILE_FLAG_NO_BUFFERING.
constexpr size_t kMaxTransfer = size_t{1} << 30;

// The exclusive lock is one byte at the highest offset a file can have.
// Windows byte-range locks are mandatory, not advisory like flock(): while a
// handle holds an exclusive lock on a range, ReadFile and WriteFile on that
// range through every other handle fail with ERROR_LOCK_VIOLATION
// (https://learn.microsoft.com/en-us/windows/win32/api/fileapi/nf-fileapi-lockfileex,
// https://learn.microsoft.com/en-us/windows/win32/fileio/locking-and-unlocking-byte-ranges-in-files).
// Locking the data would shut out readers that open without the lock. File
// sizes and offsets are signed 64-bit (LARGE_INTEGER): no file has a byte at
// 2^63 - 1, so no transfer touches it (NTFS's own size limit is far lower).
// The range also stays clear of offsets that are negative as a LARGE_INTEGER
// and cannot wrap past 2^64, which filesystems may refuse
// (ERROR_INVALID_LOCK_RANGE). Locking beyond the end of the file is allowed.
constexpr uint64_t kLockOffset = 0x7FFFFFFFFFFFFFFFull;
constexpr DWORD kLockLength = 1;

bool IsPowerOfTwo(uint64_t value) { return value != 0 && (value & (value - 1)) == 0; }

// On a handle opened without FILE_FLAG_OVERLAPPED, the OVERLAPPED offset makes
// ReadFile and WriteFile positional, and they return only when the transfer is
// done (https://learn.microsoft.com/en-us/windows/win32/api/fileapi/nf-fileapi-writefile).
OVERLAPPED AtOffset(uint64_t offset) {
  OVERLAPPED overlapped;
  memset(&overlapped, 0, sizeof overlapped);
  overlapped.Offset = static_cast<DWORD>(offset & 0xFFFFFFFFu);
  overlapped.OffsetHigh = static_cast<DWORD>(offset >> 32);
  return overlapped;
}

HANDLE CreateWithOptions(const std::wstring& path, const OpenOptions& options, bool direct) {
  const DWORD access = options.read_only ? GENERIC_READ : (GENERIC_READ | GENERIC_WRITE);
  // Every share mode: as on POSIX, anyone may open the file, and the exclusion
  // between writers is the lock (TakeLock), which says kLocked. Denying sharing
  // instead would also shut out opens without the lock, and its
  // ERROR_SHARING_VIOLATION cannot tell clfs's lock from any other holder.
  // FILE_SHARE_DELETE lets the file be renamed or deleted while open, as on POSIX.
  const DWORD share = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
  DWORD disposition = OPEN_EXISTING;
  if (options.create) disposition = options.exclusive ? CREATE_NEW : OPEN_ALWAYS;
  DWORD flags = FILE_ATTRIBUTE_NORMAL;
  if (direct) flags |= FILE_FLAG_NO_BUFFERING;
  // A reparse point (symbolic link, junction) is opened itself, not followed:
  // CheckRegular then refuses it.
  if (options.regular_only) flags |= FILE_FLAG_OPEN_REPARSE_POINT;
  // With FILE_FLAG_NO_BUFFERING, write-through also asks the drive to put the
  // data on persistent media before the write completes: the O_DSYNC of
  // posix.cc. See "Caching Behavior" in
  // https://learn.microsoft.com/en-us/windows/win32/api/fileapi/nf-fileapi-createfilew
  if (!options.read_only && options.durability == Durability::kDsync) {
    flags |= FILE_FLAG_WRITE_THROUGH;
  }
  // No security attributes: the handle is not inherited by child processes
  // (the O_CLOEXEC of posix.cc).
  return CreateFileW(path.c_str(), access, share, nullptr, disposition, flags, nullptr);
}

// The errors with which CreateFileW refuses FILE_FLAG_NO_BUFFERING: the flag
// is invalid for the file, or the volume's driver does not support it.
bool RefusesNoBuffering(DWORD error) {
  return error == ERROR_INVALID_PARAMETER || error == ERROR_NOT_SUPPORTED ||
         error == ERROR_INVALID_FUNCTION;
}

SysError TakeLock(HANDLE handle) {
  OVERLAPPED position = AtOffset(kLockOffset);
  // LOCKFILE_FAIL_IMMEDIATELY: a held lock is answered at once, never queued,
  // so nothing completes into `position` after this returns.
  if (LockFileEx(handle, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, kLockLength, 0,
                 &position)) {
    return SysError();
  }
  const DWORD error = GetLastError();
  if (error == ERROR_LOCK_VIOLATION) {
    SysError locked = MakeError(EWOULDBLOCK, "LockFileEx");
    locked.kind = ErrorKind::kLocked;
    return locked;
  }
  // ERROR_IO_PENDING would mean an overlapped handle, which CreateWithOptions
  // never opens.
  CLFS_ASSERT(error != ERROR_IO_PENDING);
  return Win32Error(error, "LockFileEx");
}

// The sector sizes of the device under a volume, from the storage stack:
// IOCTL_STORAGE_QUERY_PROPERTY(StorageAccessAlignmentProperty) on a handle to
// the volume itself ("\\?\Volume{GUID}" without the trailing separator,
// which would name its root directory), opened with no access rights, which
// the query needs none of
// (https://learn.microsoft.com/en-us/windows/win32/api/winioctl/ns-winioctl-storage_access_alignment_descriptor).
bool VolumeAlignment(const wchar_t* root, uint32_t* logical, uint32_t* physical) {
  wchar_t name[MAX_PATH];
  if (!GetVolumeNameForVolumeMountPointW(root, name, MAX_PATH)) return false;
  std::wstring device(name);
  if (!device.empty() && device.back() == L'\\') device.pop_back();
  HandleGuard volume(CreateFileW(device.c_str(), 0, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                                 OPEN_EXISTING, 0, nullptr));
  if (!volume.valid()) return false;
  STORAGE_PROPERTY_QUERY query;
  memset(&query, 0, sizeof query);
  query.PropertyId = StorageAccessAlignmentProperty;
  query.QueryType = PropertyStandardQuery;
  STORAGE_ACCESS_ALIGNMENT_DESCRIPTOR alignment;
  memset(&alignment, 0, sizeof alignment);
  DWORD returned = 0;
  if (!DeviceIoControl(volume.get(), IOCTL_STORAGE_QUERY_PROPERTY, &query, sizeof query, &alignment,
                       sizeof alignment, &returned, nullptr) ||
      returned < offsetof(STORAGE_ACCESS_ALIGNMENT_DESCRIPTOR, BytesOffsetForSectorAlignment) ||
      !IsPowerOfTwo(alignment.BytesPerLogicalSector)) {
    return false;
  }
  *logical = alignment.BytesPerLogicalSector;
  *physical = IsPowerOfTwo(alignment.BytesPerPhysicalSector)
                  ? std::max<uint32_t>(alignment.BytesPerPhysicalSector, *logical)
                  : *logical;
  return true;
}

// The volume's sector sizes, from the first of these that answers:
// FILE_STORAGE_INFO (the filesystem's view, Windows 8 on), the storage
// stack's alignment descriptor, GetDiskFreeSpace (the logical size only, as
// the File Buffering page says). Returns where they came from, or nullptr
// when nothing said.
const char* SectorSizes(HANDLE handle, const std::wstring& path, uint32_t* logical,
                        uint32_t* physical) {
  FILE_STORAGE_INFO storage;
  memset(&storage, 0, sizeof storage);
  if (GetFileInformationByHandleEx(handle, FileStorageInfo, &storage, sizeof storage) &&
      IsPowerOfTwo(storage.LogicalBytesPerSector)) {
    *logical = storage.LogicalBytesPerSector;
    // The atomic write unit is what a torn write can tear: writes smaller than
    // it "may require a read before the entire block can be written atomically"
    // (https://learn.microsoft.com/en-us/windows/win32/api/winbase/ns-winbase-file_storage_info).
    const uint32_t atomic = storage.PhysicalBytesPerSectorForAtomicity;
    *physical = IsPowerOfTwo(atomic) ? std::max(atomic, *logical) : *logical;
    return "FILE_STORAGE_INFO";
  }
  std::vector<wchar_t> root(32768);  // the longest path Windows accepts, in UTF-16 units
  if (!GetVolumePathNameW(path.c_str(), root.data(), static_cast<DWORD>(root.size()))) {
    return nullptr;
  }
  if (VolumeAlignment(root.data(), logical, physical)) return "IOCTL_STORAGE_QUERY_PROPERTY";
  DWORD sectors_per_cluster = 0;
  DWORD bytes_per_sector = 0;
  DWORD free_clusters = 0;
  DWORD total_clusters = 0;
  if (GetDiskFreeSpaceW(root.data(), &sectors_per_cluster, &bytes_per_sector, &free_clusters,
                        &total_clusters) &&
      IsPowerOfTwo(bytes_per_sector)) {
    *logical = bytes_per_sector;
    *physical = bytes_per_sector;
    return "GetDiskFreeSpace";
  }
  return nullptr;
}

void DirectGeometry(HANDLE handle, const std::wstring& path, Geometry* geometry) {
  uint32_t logical = 0;
  uint32_t physical = 0;
  const char* source = SectorSizes(handle, path, &logical, &physical);
  if (source == nullptr) {
    const uint32_t page = static_cast<uint32_t>(PageSize());
    logical = page;
    physical = page;
    source = "page-size";
  }
  // Offsets and lengths must be multiples of the sector size; buffer addresses
  // "should be physical sector-aligned", and whether a misaligned one is
  // refused depends on the disk
  // (https://learn.microsoft.com/en-us/windows/win32/fileio/file-buffering), so
  // memory takes the stricter of the two.
  geometry->memory_alignment = physical;
  geometry->offset_alignment = logical;
  geometry->logical_sector_size = logical;
  geometry->physical_sector_size = physical;
  geometry->source = source;
}

void BufferedGeometry(HANDLE handle, const std::wstring& path, Geometry* geometry) {
  uint32_t logical = 512;
  uint32_t physical = 512;
  uint32_t l = 0;
  uint32_t p = 0;
  if (SectorSizes(handle, path, &l, &p) != nullptr) {
    logical = l;
    physical = p;
  }
  // Buffered I/O has no alignment rules; the sector size is kept so that the
  // on-disk layout is the same as it would be with direct I/O.
  geometry->memory_alignment = logical;
  geometry->offset_alignment = logical;
  geometry->logical_sector_size = logical;
  geometry->physical_sector_size = std::max(logical, physical);
  geometry->source = "buffered";
}

}  // namespace

SysError OpenFile(const std::string& path, const OpenOptions& options, OpenedFile* out) {
  CLFS_ASSERT(out != nullptr);
  std::wstring wide;
  SysError error = Utf8ToWide(path, &wide);
  if (error.failed()) return error;

  bool direct = true;
  HandleGuard file(CreateWithOptions(wide, options, true));
  if (!file.valid()) {
    const DWORD err = GetLastError();
    if (options.regular_only) {
      SysError failure = regular::OpenFailure(wide, err);
      if (failure.kind == ErrorKind::kUnsafeFile) return failure;
    }
    if (!RefusesNoBuffering(err)) return CreateFileError(wide, err);
    char text[120];
    snprintf(text, sizeof text,
             "CreateFileW(FILE_FLAG_NO_BUFFERING) was refused with Windows error %lu",
             static_cast<unsigned long>(err));
    if (!options.allow_buffered) {
      SysError refused = MakeError(ErrnoFromWin32(err), "CreateFileW");
      refused.kind = ErrorKind::kDirectUnsupported;
      refused.detail = text;
      return refused;
    }
    // If the error was not about the flag after all, this open fails the same
    // way and reports it.
    file.reset(CreateWithOptions(wide, options, false));
    if (!file.valid()) {
      const DWORD retry = GetLastError();
      return options.regular_only ? regular::OpenFailure(wide, retry)
                                  : CreateFileError(wide, retry);
    }
    direct = false;
    out->reason = std::string("buffered: ") + text;
  }

  if (options.regular_only) {
    // Before anything else is done with the handle.
    error = regular::CheckOpened(file.get(), wide);
    if (error.failed()) return error;
  }

  if (options.lock) {
    error = TakeLock(file.get());
    if (error.failed()) return error;
    if (options.regular_only) {
      error = regular::CheckStillNamed(file.get(), wide);
      if (error.failed()) return error;
    }
  }

  if (direct) {
    // No probe as on Linux: FILE_FLAG_NO_BUFFERING is enforced by the I/O
    // manager, which refuses misaligned transfers before any filesystem sees
    // them, so a misaligned read would not show whether the cache is bypassed.
    DirectGeometry(file.get(), wide, &out->geometry);
    char text[200];
    snprintf(text, sizeof text,
             "FILE_FLAG_NO_BUFFERING; %s: memory alignment %u, offset alignment %u",
             out->geometry.source, out->geometry.memory_alignment, out->geometry.offset_alignment);
    out->reason = text;
  } else {
    BufferedGeometry(file.get(), wide, &out->geometry);
  }
  out->direct = direct;

  CLFS_ASSERT(IsPowerOfTwo(out->geometry.memory_alignment));
  CLFS_ASSERT(IsPowerOfTwo(out->geometry.offset_alignment));
  error = FileSize(file.get(), &out->size);
  if (error.failed()) return error;
  out->handle = file.release();
  return SysError();
}

SysError CloseFile(NativeHandle handle) {
  // The system drops a closed handle's locks itself, but "the time it takes
  // ... depends upon available system resources"
  // (https://learn.microsoft.com/en-us/windows/win32/api/fileapi/nf-fileapi-lockfileex):
  // unlocking first lets the file be reopened with the lock at once. A handle
  // opened without the lock fails this with ERROR_NOT_LOCKED, which is fine.
  UnlockFile(handle, static_cast<DWORD>(kLockOffset & 0xFFFFFFFFu),
             static_cast<DWORD>(kLockOffset >> 32), kLockLength, 0);
  if (!CloseHandle(handle)) return LastError("CloseHandle");
  return SysError();
}

SysError WriteAt(NativeHandle handle, const IoSlice* slices, size_t count, uint64_t offset,
                 uint64_t* written) {
  CLFS_ASSERT(written != nullptr);
  CLFS_ASSERT(count == 0 || slices != nullptr);
  *written = 0;
  // One WriteFile per slice. WriteFileGather would take them in one call, but
  // only on an overlapped handle and in whole pages per element
  // (https://learn.microsoft.com/en-us/windows/win32/api/fileapi/nf-fileapi-writefilegather).
  for (size_t i = 0; i < count; i++) {
    size_t done = 0;
    while (done < slices[i].length) {
      const DWORD length = static_cast<DWORD>(std::min(slices[i].length - done, kMaxTransfer));
      OVERLAPPED position = AtOffset(offset + *written);
      DWORD n = 0;
      if (!WriteFile(handle, slices[i].base + done, length, &n, &position)) {
        const DWORD error = GetLastError();
        SysError failure = Win32Error(error, "WriteFile");
        // A handle without write access: pwritev says EBADF (libuv maps it so).
        if (error == ERROR_ACCESS_DENIED) failure.code = EBADF;
        return failure;
      }
      if (n == 0) return MakeError(EIO, "WriteFile");  // no progress: never spin
      CLFS_ASSERT(n <= length);
      done += n;
      *written += n;
    }
  }
  return SysError();
}

SysError ReadAt(NativeHandle handle, const IoSlice& slice, uint64_t offset, uint64_t* read) {
  CLFS_ASSERT(read != nullptr);
  *read = 0;
  while (*read < slice.length) {
    const DWORD length =
        static_cast<DWORD>(std::min(slice.length - static_cast<size_t>(*read), kMaxTransfer));
    OVERLAPPED position = AtOffset(offset + *read);
    DWORD n = 0;
    if (!ReadFile(handle, slice.base + *read, length, &n, &position)) {
      const DWORD error = GetLastError();
      // A positional read at or past the end fails with ERROR_HANDLE_EOF
      // (https://learn.microsoft.com/en-us/windows/win32/api/fileapi/nf-fileapi-readfile).
      if (error == ERROR_HANDLE_EOF) break;
      return Win32Error(error, "ReadFile");
    }
    *read += n;
    // A synchronous read of a file comes back short only at the end of the
    // file. Stop there: with FILE_FLAG_NO_BUFFERING the next offset would be
    // misaligned and fail with ERROR_INVALID_PARAMETER instead of saying so.
    if (n < length) break;
  }
  return SysError();
}

SysError DataSync(NativeHandle handle) {
  // Writes the file's data and metadata and flushes the drive's cache
  // (https://learn.microsoft.com/en-us/windows/win32/api/fileapi/nf-fileapi-flushfilebuffers).
  if (!FlushFileBuffers(handle)) return LastError("FlushFileBuffers");
  return SysError();
}

SysError FileSize(NativeHandle handle, uint64_t* size) {
  CLFS_ASSERT(size != nullptr);
  LARGE_INTEGER bytes;
  if (!GetFileSizeEx(handle, &bytes)) return LastError("GetFileSizeEx");
  CLFS_ASSERT(bytes.QuadPart >= 0);
  *size = static_cast<uint64_t>(bytes.QuadPart);
  return SysError();
}

// The bytes the caller may still allocate on the volume that holds `handle`'s
// file (GetDiskFreeSpaceEx of the file's directory, which counts quotas).
// False when it cannot tell.
bool FreeBytesAvailable(HANDLE handle, uint64_t* bytes) {
  std::vector<wchar_t> name(32768);  // the longest path Windows accepts, in UTF-16 units
  const DWORD length = GetFinalPathNameByHandleW(
      handle, name.data(), static_cast<DWORD>(name.size()), FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
  if (length == 0 || length >= name.size()) return false;
  std::wstring directory(name.data(), length);
  const size_t slash = directory.find_last_of(L"\\/");
  if (slash == std::wstring::npos) return false;
  directory.resize(slash + 1);
  ULARGE_INTEGER available;
  if (!GetDiskFreeSpaceExW(directory.c_str(), &available, nullptr, nullptr)) return false;
  *bytes = available.QuadPart;
  return true;
}

SysError Preallocate(NativeHandle handle, uint64_t size, const Geometry& geometry) {
  const uint64_t align = geometry.offset_alignment;
  CLFS_ASSERT(IsPowerOfTwo(align));
  CLFS_ASSERT(size % align == 0);
  CLFS_ASSERT(size <= static_cast<uint64_t>(INT64_MAX));
  uint64_t current = 0;
  SysError error = FileSize(handle, &current);
  if (error.failed()) return error;
  if (current >= size) return SysError();
  // More than the volume has free is ERROR_DISK_FULL before anything is
  // written: where the reservation below is not implemented (Wine), the zero
  // writes would otherwise fill the volume before failing (as posix_fallocate
  // answers ENOSPC at once).
  uint64_t available = 0;
  if (FreeBytesAvailable(handle, &available) && size - current > available) {
    return Win32Error(ERROR_DISK_FULL, "GetDiskFreeSpaceEx");
  }

  // Reserve the clusters in one go (contiguous where the filesystem can); the
  // allocation size moves, the end of file does not
  // (https://learn.microsoft.com/en-us/windows/win32/api/winbase/ns-winbase-file_allocation_info).
  FILE_ALLOCATION_INFO allocation;
  allocation.AllocationSize.QuadPart = static_cast<LONGLONG>(size);
  if (!SetFileInformationByHandle(handle, FileAllocationInfo, &allocation, sizeof allocation)) {
    const DWORD err = GetLastError();
    // Reserving is an optimisation: the zero writes below allocate anyway, so
    // a filesystem that cannot (or a Windows emulation that does not
    // implement it: Wine answers ERROR_CALL_NOT_IMPLEMENTED) is not an error.
    if (err != ERROR_NOT_SUPPORTED && err != ERROR_INVALID_FUNCTION &&
        err != ERROR_INVALID_PARAMETER && err != ERROR_CALL_NOT_IMPLEMENTED) {
      return Win32Error(err, "SetFileInformationByHandle");
    }
  }

  // Then write the zeros. Reserved clusters past the file's valid data length
  // read as zeros without holding them, and a write beyond that length makes
  // NTFS zero the gap and extend it first; written zeros move the valid data
  // length, so later writes are plain overwrites. SetFileValidData would move
  // it without writing, but needs SE_MANAGE_VOLUME_NAME and exposes whatever
  // the disk held before
  // (https://learn.microsoft.com/en-us/windows/win32/api/fileapi/nf-fileapi-setfilevaliddata).
  error = WriteZeros(handle, current, size, geometry);
  if (error.failed()) return error;
  // FlushFileBuffers persists the new size with the data.
  return DataSync(handle);
}

void* AllocateAligned(size_t alignment, size_t size) { return _aligned_malloc(size, alignment); }

void FreeAligned(void* memory) { _aligned_free(memory); }

size_t PageSize() {
  SYSTEM_INFO info;
  GetSystemInfo(&info);
  CLFS_ASSERT(info.dwPageSize > 0);
  return static_cast<size_t>(info.dwPageSize);
}

// VirtualLock locks no more than the process's minimum working set holds,
// less a few pages of overhead, and that minimum is 50 pages (200 KiB) unless
// raised
// (https://learn.microsoft.com/en-us/windows/win32/api/memoryapi/nf-memoryapi-virtuallock).
// Decision: when VirtualLock fails with ERROR_WORKING_SET_QUOTA, the minimum
// (and, where needed, the maximum) working set is raised by the region's size
// with SetProcessWorkingSetSize and the lock is tried once more. Without it
// pinning would be useless on Windows, where the quota is a per-process
// setting that any process may raise for itself (SE_INC_WORKING_SET_NAME,
// which every user holds), not a limit an administrator set as RLIMIT_MEMLOCK
// is. The minimum is not lowered again on unlock: the next lock fits in what
// the unlocked pages left, so the minimum grows to the most this process has
// held locked at once, never past it. Where Windows refuses to raise it
// (memory is short: minimums are granted first come, first served), the
// VirtualLock error stands.
SysError LockMemory(void* address, size_t length) {
  if (VirtualLock(address, length)) return SysError();
  const DWORD err = GetLastError();
  if (err == ERROR_WORKING_SET_QUOTA) {
    const HANDLE self = GetCurrentProcess();
    SIZE_T minimum = 0;
    SIZE_T maximum = 0;
    DWORD raise_error = 0;
    if (GetProcessWorkingSetSize(self, &minimum, &maximum) &&
        length <= SIZE_MAX - minimum - PageSize()) {
      const SIZE_T wanted = minimum + length;
      if (SetProcessWorkingSetSize(self, wanted, std::max(maximum, wanted + PageSize()))) {
        if (VirtualLock(address, length)) return SysError();
        raise_error = GetLastError();
      } else {
        raise_error = GetLastError();
      }
    }
    SysError error = Win32Error(raise_error != 0 ? raise_error : err, "VirtualLock");
    char text[200];
    snprintf(text, sizeof text,
             "the process's minimum working set (%llu bytes) could not be raised to hold "
             "%llu more locked bytes (Windows error %lu)",
             static_cast<unsigned long long>(minimum), static_cast<unsigned long long>(length),
             static_cast<unsigned long>(raise_error != 0 ? raise_error : err));
    error.detail = text;
    return error;
  }
  return Win32Error(err, "VirtualLock");
}

SysError UnlockMemory(void* address, size_t length) {
  if (VirtualUnlock(address, length)) return SysError();
  const DWORD err = GetLastError();
  // Unlocking pages that are not locked fails with ERROR_NOT_LOCKED (after
  // unlocking the rest); munlock() succeeds there, and so does this.
  if (err == ERROR_NOT_LOCKED) return SysError();
  return Win32Error(err, "VirtualUnlock");
}

SysError ExcludeFromFork(void* address, size_t length) {
  // Windows has no fork(): a child process never shares this memory.
  (void)address;
  (void)length;
  return SysError();
}

SysError IncludeInFork(void* address, size_t length) {
  (void)address;
  (void)length;
  return SysError();
}

uint64_t MemoryLockLimit() {
  // No fixed limit: LockMemory raises the minimum working set as it needs
  // (see there), and only Windows' free memory bounds that.
  return UINT64_MAX;
}

bool ProcessLockedBytes(uint64_t* bytes) {
  // Windows does not report how many of a process's pages are locked.
  (void)bytes;
  return false;
}

}  // namespace platform
}  // namespace clfs

#endif  // _WIN32
