// The platform layer: everything clfs asks of the operating system, and nothing
// else. No N-API, no JavaScript, no policy: open a file for direct I/O and say
// what alignment it needs, positional vectored writes and reads, data sync,
// preallocation, an exclusive lock, and pinned (locked) memory.
//
// posix.cc implements it for Linux and macOS, win32.cc for Windows. Functions
// return a SysError; a default-constructed one (code 0) is success.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace clfs {
namespace platform {

#if defined(_WIN32)
using NativeHandle = void*;  // HANDLE
#else
using NativeHandle = int;  // file descriptor
#endif

// What went wrong, as the binding needs to report it.
enum class ErrorKind : uint8_t {
  kSystem,             // a system call failed: `code` is a positive errno value
  kLocked,             // another handle holds the file's exclusive lock
  kDirectUnsupported,  // the filesystem refuses (or silently ignores) direct I/O
  kUnsafeFile,         // regular_only: the path names something else (`detail` says what)
};

struct SysError {
  int code = 0;                   // positive errno value (Windows errors are translated)
  const char* syscall = nullptr;  // the call that failed, as a user would name it
  ErrorKind kind = ErrorKind::kSystem;
  std::string detail;  // extra words for the message, may be empty

  bool failed() const { return code != 0 || kind != ErrorKind::kSystem; }
};

SysError MakeError(int code, const char* syscall);

// "EIO" for EIO; "UNKNOWN" for codes without a name.
const char* ErrnoName(int code);
// The system's description of an errno value.
std::string ErrnoMessage(int code);

enum class Durability : uint8_t {
  kDsync,      // every write is durable when it completes (O_DSYNC / write-through)
  kFdatasync,  // writes become durable at the next DataSync()
  kNone,       // direct I/O only; not power-safe
};

struct OpenOptions {
  bool create = false;     // create the file if it is missing
  bool exclusive = false;  // with create: fail with EEXIST if it exists
  bool read_only = false;
  bool lock = true;             // take an exclusive lock, held until CloseFile
  bool allow_buffered = false;  // where direct I/O is refused, open buffered
  Durability durability = Durability::kDsync;
  // Open only a plain regular file of the directory the path names: never
  // follow a symbolic link (or, on Windows, a reparse point) as the last
  // component, never open a FIFO, socket or device (POSIX: O_NONBLOCK |
  // O_NOCTTY | O_NOFOLLOW, and fstat before anything else is done with the
  // descriptor), and refuse a file with more than one link or on another
  // device than its directory. With `lock`, the path must still name the
  // locked file once the lock is held (ENOENT if it was removed or renamed
  // meanwhile). Refusals are kUnsafeFile.
  bool regular_only = false;
};

// What direct I/O on this file requires. Every address handed to the kernel
// must be a multiple of memory_alignment; every offset and length a multiple of
// offset_alignment.
struct Geometry {
  uint32_t memory_alignment = 0;
  uint32_t offset_alignment = 0;
  uint32_t logical_sector_size = 0;
  uint32_t physical_sector_size = 0;
  // Where offset_alignment came from: statx, BLKSSZGET, sysfs, page-size or
  // buffered; on Windows FILE_STORAGE_INFO, IOCTL_STORAGE_QUERY_PROPERTY or
  // GetDiskFreeSpace.
  const char* source = "";
};

struct OpenedFile {
  NativeHandle handle{};
  bool direct = false;
  std::string reason;  // why direct is what it is, in a sentence
  Geometry geometry;
  uint64_t size = 0;
};

SysError OpenFile(const std::string& path, const OpenOptions& options, OpenedFile* out);
SysError CloseFile(NativeHandle handle);
// The size of the file at `path`, which must pass the checks of a
// regular_only open (kUnsafeFile otherwise); it is not opened.
SysError RegularFileSize(const std::string& path, uint64_t* size);

// One contiguous piece of memory taking part in a vectored transfer.
struct IoSlice {
  uint8_t* base;
  size_t length;
};

// Writes every byte of the slices at `offset`, retrying interrupted and short
// writes. On failure *written says how far it got.
SysError WriteAt(NativeHandle handle, const IoSlice* slices, size_t count, uint64_t offset,
                 uint64_t* written);
// Reads into the slice at `offset` until it is full or the file ends.
SysError ReadAt(NativeHandle handle, const IoSlice& slice, uint64_t offset, uint64_t* read);
SysError DataSync(NativeHandle handle);
SysError FileSize(NativeHandle handle, uint64_t* size);
// Makes the file at least `size` bytes long with every byte past the old end
// allocated *and written* (zeros), then makes that durable, so later direct
// overwrites never allocate blocks or convert unwritten extents.
SysError Preallocate(NativeHandle handle, uint64_t size, const Geometry& geometry);

// Writes zeros over [from, to) (`to` a multiple of the offset alignment),
// keeping the bytes before `from` in its sector. Shared (common.cc).
SysError WriteZeros(NativeHandle handle, uint64_t from, uint64_t to, const Geometry& geometry);

// Aligned heap memory for the platform layer's own buffers; null on failure.
void* AllocateAligned(size_t alignment, size_t size);
void FreeAligned(void* memory);

// Memory. Regions handed to these are page-aligned and a whole number of pages.
size_t PageSize();
SysError LockMemory(void* address, size_t length);
SysError UnlockMemory(void* address, size_t length);
// Keeps a region out of child processes (a forked child must not share buffers
// the kernel is writing from).
SysError ExcludeFromFork(void* address, size_t length);
// Undoes ExcludeFromFork before the memory goes back to the allocator.
SysError IncludeInFork(void* address, size_t length);
// The process's limit on locked memory in bytes; UINT64_MAX when unlimited
// (Windows, where LockMemory raises the working-set quota it locks within).
uint64_t MemoryLockLimit();
// The bytes this process has locked now, as the OS counts them; false where the
// OS does not say.
bool ProcessLockedBytes(uint64_t* bytes);

}  // namespace platform
}  // namespace clfs
