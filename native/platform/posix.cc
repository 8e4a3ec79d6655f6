// The platform layer on Linux and macOS. See platform.h for the contract.
//
// Direct I/O: Linux opens with O_DIRECT and asks statx(STATX_DIOALIGN) what the
// file needs (Linux 6.1+, https://man7.org/linux/man-pages/man2/statx.2.html).
// A filesystem that does not report it gets a probe: a real direct file refuses
// a misaligned read with EINVAL, a filesystem that ignores O_DIRECT (tmpfs
// before 6.6 refused the flag; since then it accepts and ignores it) serves it.
// macOS has no O_DIRECT: F_NOCACHE turns the cache off for the descriptor.
// Durability on macOS is F_FULLFSYNC (fsync and O_DSYNC leave data in the
// drive's cache): DataSync uses it, and WriteAt follows every write of an
// O_DSYNC file with it.
#if !defined(_WIN32)

#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

#include "../util/assert.h"
#include "platform.h"
#include "regular_file.h"

#if defined(__linux__)
#include <linux/fs.h>  // BLKSSZGET, BLKPBSZGET
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#endif

#if defined(__APPLE__)
#include <mach/vm_inherit.h>  // VM_INHERIT_NONE, VM_INHERIT_COPY for minherit
#endif

namespace clfs {
namespace platform {

#if defined(__linux__)
// O_DIRECT must come from <fcntl.h> with _GNU_SOURCE: libuv's UV_FS_O_DIRECT is
// 0 on platforms without it, which would silently open buffered.
static_assert(O_DIRECT != 0, "O_DIRECT must be defined by <fcntl.h>");
#endif

// MakeError and ErrnoName are in errors.cc, shared with win32.cc.

std::string ErrnoMessage(int code) {
  char buffer[256];
  buffer[0] = '\0';
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
  // GNU strerror_r returns the message, which may not be in buffer.
  const char* message = strerror_r(code, buffer, sizeof buffer);
  return message != nullptr ? std::string(message) : std::string("unknown error");
#else
  if (strerror_r(code, buffer, sizeof buffer) != 0) return "unknown error";
  return std::string(buffer);
#endif
}

namespace {

bool IsPowerOfTwo(uint64_t value) { return value != 0 && (value & (value - 1)) == 0; }

// The descriptor closes when this goes out of scope unless released.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

struct AlignedFree {
  void operator()(uint8_t* p) const { FreeAligned(p); }
};
using AlignedPtr = std::unique_ptr<uint8_t, AlignedFree>;

#if defined(__linux__)
// Reads a small decimal number from a sysfs file; 0 when absent.
uint32_t ReadSysfsNumber(const std::string& path) {
  FILE* f = fopen(path.c_str(), "re");
  if (f == nullptr) return 0;
  unsigned long value = 0;
  if (fscanf(f, "%lu", &value) != 1) value = 0;
  fclose(f);
  return value > UINT32_MAX ? 0 : static_cast<uint32_t>(value);
}

// The sector sizes of the block device holding a file, from sysfs. A partition
// has no queue/ of its own: its parent disk's is one directory up.
void SectorSizesFromSysfs(dev_t device, uint32_t* logical, uint32_t* physical) {
  char base[96];
  snprintf(base, sizeof base, "/sys/dev/block/%u:%u/", major(device), minor(device));
  for (const char* queue : {"queue/", "../queue/"}) {
    std::string dir = std::string(base) + queue;
    uint32_t l = ReadSysfsNumber(dir + "logical_block_size");
    if (l == 0) continue;
    *logical = l;
    *physical = ReadSysfsNumber(dir + "physical_block_size");
    if (*physical < l) *physical = l;
    return;
  }
}
#endif

// Fills geometry and decides whether the descriptor really does direct I/O.
// Returns false with a reason when it does not.
bool ProbeDirect(int fd, Geometry* geometry, std::string* reason) {
  const uint32_t page = static_cast<uint32_t>(PageSize());
#if defined(__linux__)
  struct stat st;
  if (fstat(fd, &st) != 0) {
    *reason = "fstat failed while probing direct I/O";
    return false;
  }
  uint32_t logical = 0;
  uint32_t physical = 0;
  if (S_ISBLK(st.st_mode)) {
    int l = 0;
    unsigned int p = 0;
    if (ioctl(fd, BLKSSZGET, &l) == 0 && l > 0) logical = static_cast<uint32_t>(l);
    if (ioctl(fd, BLKPBSZGET, &p) == 0 && p > 0) physical = p;
  } else {
    SectorSizesFromSysfs(st.st_dev, &logical, &physical);
  }

  struct statx sx;
  memset(&sx, 0, sizeof sx);
  bool have_statx =
      statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN) != 0;
  if (have_statx) {
    if (sx.stx_dio_offset_align == 0) {
      *reason = "the filesystem reports no direct-I/O support (statx dio_offset_align = 0)";
      return false;
    }
    geometry->memory_alignment = sx.stx_dio_mem_align;
    geometry->offset_alignment = sx.stx_dio_offset_align;
    geometry->source = "statx";
  } else if (logical != 0) {
    geometry->memory_alignment = logical;
    geometry->offset_alignment = logical;
    geometry->source = S_ISBLK(st.st_mode) ? "BLKSSZGET" : "sysfs";
  } else {
    geometry->memory_alignment = page;
    geometry->offset_alignment = page;
    geometry->source = "page-size";
  }
  geometry->logical_sector_size = logical != 0 ? logical : geometry->offset_alignment;
  geometry->physical_sector_size = std::max(
      physical != 0 ? physical : geometry->logical_sector_size, geometry->logical_sector_size);

  if (!have_statx) {
    // Nothing vouches for direct I/O: a direct descriptor must refuse a read at
    // a misaligned offset. One that serves it is going through the page cache.
    const size_t length = std::max<size_t>(geometry->offset_alignment, page);
    AlignedPtr buffer(static_cast<uint8_t*>(AllocateAligned(page, length)));
    if (!buffer) {
      *reason = "out of memory while probing direct I/O";
      return false;
    }
    ssize_t n;
    do {
      n = pread(fd, buffer.get(), length, 1);
    } while (n < 0 && errno == EINTR);
    if (!(n < 0 && errno == EINVAL)) {
      *reason =
          "the filesystem does not report direct-I/O alignment (statx) and served a misaligned "
          "O_DIRECT read: it ignores O_DIRECT (tmpfs does)";
      return false;
    }
  }
  char text[200];
  snprintf(text, sizeof text, "O_DIRECT; %s: memory alignment %u, offset alignment %u",
           geometry->source, geometry->memory_alignment, geometry->offset_alignment);
  *reason = text;
  return true;
#elif defined(__APPLE__)
  // F_NOCACHE has no alignment rules of its own; the device block size is what
  // uncached transfers are sized in.
  geometry->memory_alignment = page;
  geometry->offset_alignment = 4096;
  geometry->logical_sector_size = 4096;
  geometry->physical_sector_size = 4096;
  geometry->source = "page-size";
  *reason = "F_NOCACHE";
  (void)fd;
  return true;
#else
  (void)fd;
  (void)geometry;
  *reason = "direct I/O is not implemented on this platform";
  return false;
#endif
}

void BufferedGeometry(int fd, Geometry* geometry) {
  uint32_t logical = 512;
  uint32_t physical = 512;
#if defined(__linux__)
  struct stat st;
  if (fstat(fd, &st) == 0 && !S_ISBLK(st.st_mode)) {
    uint32_t l = 0;
    uint32_t p = 0;
    SectorSizesFromSysfs(st.st_dev, &l, &p);
    if (l != 0) {
      logical = l;
      physical = p;
    }
  }
#else
  (void)fd;
#endif
  // Buffered I/O has no alignment rules; the sector size is kept so that the
  // on-disk layout is the same as it would be with direct I/O.
  geometry->memory_alignment = logical;
  geometry->offset_alignment = logical;
  geometry->logical_sector_size = logical;
  geometry->physical_sector_size = std::max(logical, physical);
  geometry->source = "buffered";
}

int OpenFlags(const OpenOptions& options, bool direct) {
  int flags = O_CLOEXEC;
  flags |= options.read_only ? O_RDONLY : O_RDWR;
  if (options.create) flags |= O_CREAT;
  if (options.create && options.exclusive) flags |= O_EXCL;
  if (!options.read_only && options.durability == Durability::kDsync) flags |= O_DSYNC;
#if defined(__linux__)
  if (direct) flags |= O_DIRECT;
#else
  (void)direct;
#endif
  return flags;
}

int OpenRetrying(const std::string& path, int flags) {
  int fd;
  do {
    fd = open(path.c_str(), flags, 0644);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

SysError TakeLock(int fd) {
  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) return SysError();
  if (errno == EWOULDBLOCK) {
    SysError error = MakeError(EWOULDBLOCK, "flock");
    error.kind = ErrorKind::kLocked;
    return error;
  }
  return MakeError(errno, "flock");
}

}  // namespace

SysError OpenFile(const std::string& path, const OpenOptions& options, OpenedFile* out) {
  CLFS_ASSERT(out != nullptr);
  // regular_only: the name is looked up in its directory, opened once (see
  // regular_file_posix.cc).
  regular::Directory directory;
  if (options.regular_only) {
    SysError error = directory.Open(path);
    if (error.failed()) return error;
  }
  const auto open_path = [&](int flags) {
    return options.regular_only ? directory.OpenFile(flags) : OpenRetrying(path, flags);
  };
  const auto open_failure = [&](int err) {
    return options.regular_only ? directory.OpenFailure(err) : MakeError(err, "open");
  };
  const auto remove_created = [&]() {
    if (options.regular_only) {
      directory.Unlink();
    } else {
      unlink(path.c_str());
    }
  };

  bool opened_buffered = false;
  FdGuard fd(-1);
  // Created with O_EXCL, so that this call knows whether it made the file and
  // removes it again when direct I/O turns out to be refused: such an open
  // leaves nothing behind. Without `exclusive`, an existing file is opened
  // as it is (and never removed).
  OpenOptions effective = options;
  if (options.create) effective.exclusive = true;
  fd.reset(open_path(OpenFlags(effective, true)));
  if (fd.get() < 0 && errno == EEXIST && options.create && !options.exclusive) {
    effective.create = false;
    effective.exclusive = false;
    fd.reset(open_path(OpenFlags(effective, true)));
  }
  bool created = false;
  if (fd.get() < 0) {
    const int err = errno;
    // A FIFO or a device refuses O_DIRECT with EINVAL too: that is no reason
    // to try it buffered.
    SysError failure = open_failure(err);
    if (failure.kind == ErrorKind::kUnsafeFile) return failure;
#if defined(__linux__)
    if (err == EINVAL) {
      // The filesystem refused O_DIRECT at open.
      if (effective.create) remove_created();
      if (!options.allow_buffered) {
        SysError error = MakeError(EINVAL, "open");
        error.kind = ErrorKind::kDirectUnsupported;
        error.detail = "open(O_DIRECT) was refused with EINVAL";
        return error;
      }
      fd.reset(open_path(OpenFlags(effective, false)));
      if (fd.get() < 0) return open_failure(errno);
      created = effective.create;
      out->direct = false;
      out->reason = "buffered: open(O_DIRECT) was refused with EINVAL";
      opened_buffered = true;
    } else {
      return failure;
    }
#else
    return failure;
#endif
  } else {
    created = effective.create;
  }

  if (options.regular_only) {
    // Before anything else is done with the descriptor.
    SysError error = directory.CheckOpened(fd.get());
    if (error.failed()) return error;
  }
  if (opened_buffered) BufferedGeometry(fd.get(), &out->geometry);

  if (options.lock) {
    SysError error = TakeLock(fd.get());
    if (error.failed()) return error;
    if (options.regular_only) {
      error = directory.CheckStillNamed(fd.get());
      if (error.failed()) return error;
    }
  }

  if (!opened_buffered) {
    std::string reason;
    if (ProbeDirect(fd.get(), &out->geometry, &reason)) {
#if defined(__APPLE__)
      if (fcntl(fd.get(), F_NOCACHE, 1) != 0) return MakeError(errno, "fcntl");
#endif
      out->direct = true;
      out->reason = reason;
    } else if (options.allow_buffered) {
#if defined(__linux__)
      // Turn O_DIRECT off on this descriptor (F_SETFL may change it): no
      // second open, so the file and its lock stay the ones checked above.
      const int flags = fcntl(fd.get(), F_GETFL);
      if (flags < 0 || fcntl(fd.get(), F_SETFL, flags & ~O_DIRECT) != 0) {
        return MakeError(errno, "fcntl");
      }
#endif
      out->direct = false;
      out->reason = "buffered: " + reason;
      BufferedGeometry(fd.get(), &out->geometry);
    } else {
      // Only here and at the refused O_DIRECT open above: once another
      // process may have opened the new file (and taken its lock), removing
      // it would pull it from under that process.
      if (created) remove_created();
      SysError error = MakeError(EINVAL, "open");
      error.kind = ErrorKind::kDirectUnsupported;
      error.detail = reason;
      return error;
    }
  }

  CLFS_ASSERT(IsPowerOfTwo(out->geometry.memory_alignment));
  CLFS_ASSERT(IsPowerOfTwo(out->geometry.offset_alignment));
  SysError error = FileSize(fd.get(), &out->size);
  if (error.failed()) return error;
  out->handle = fd.release();
  return SysError();
}

SysError CloseFile(NativeHandle handle) {
  // close() must not be retried on EINTR on Linux: the descriptor is gone.
  if (close(handle) != 0 && errno != EINTR) return MakeError(errno, "close");
  return SysError();
}

SysError WriteAt(NativeHandle handle, const IoSlice* slices, size_t count, uint64_t offset,
                 uint64_t* written) {
  CLFS_ASSERT(written != nullptr);
  *written = 0;
  std::vector<struct iovec> iov(count);
  for (size_t i = 0; i < count; i++) {
    iov[i].iov_base = slices[i].base;
    iov[i].iov_len = slices[i].length;
  }
  size_t first = 0;
  while (first < count) {
    const int n = static_cast<int>(std::min<size_t>(count - first, IOV_MAX));
    ssize_t done = pwritev(handle, &iov[first], n, static_cast<off_t>(offset + *written));
    if (done < 0) {
      if (errno == EINTR) continue;
      return MakeError(errno, "pwritev");
    }
    if (done == 0) return MakeError(EIO, "pwritev");  // no progress: never spin
    *written += static_cast<uint64_t>(done);
    // Skip what was written, including a partly written slice.
    size_t left = static_cast<size_t>(done);
    while (first < count && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      first++;
    }
    if (left > 0) {
      iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
    while (first < count && iov[first].iov_len == 0) first++;
  }
#if defined(__APPLE__)
  // O_DSYNC on macOS waits for the drive to take the data, not for its cache
  // to be flushed: a Durability::kDsync file (opened with O_DSYNC) gets the
  // F_FULLFSYNC of DataSync after every write.
  const int flags = fcntl(handle, F_GETFL);
  if (flags < 0) return MakeError(errno, "fcntl");
  if ((flags & O_DSYNC) != 0) return DataSync(handle);
#endif
  return SysError();
}

SysError ReadAt(NativeHandle handle, const IoSlice& slice, uint64_t offset, uint64_t* read) {
  CLFS_ASSERT(read != nullptr);
  *read = 0;
  while (*read < slice.length) {
    ssize_t n =
        pread(handle, slice.base + *read, slice.length - *read, static_cast<off_t>(offset + *read));
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeError(errno, "pread");
    }
    if (n == 0) break;  // end of file
    *read += static_cast<uint64_t>(n);
  }
  return SysError();
}

SysError DataSync(NativeHandle handle) {
  int rc;
#if defined(__APPLE__)
  // fsync on macOS does not flush the drive's cache; F_FULLFSYNC does.
  do {
    rc = fcntl(handle, F_FULLFSYNC);
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) return SysError();
  do {
    rc = fsync(handle);
  } while (rc != 0 && errno == EINTR);
  return rc == 0 ? SysError() : MakeError(errno, "fsync");
#else
  do {
    rc = fdatasync(handle);
  } while (rc != 0 && errno == EINTR);
  return rc == 0 ? SysError() : MakeError(errno, "fdatasync");
#endif
}

SysError FileSize(NativeHandle handle, uint64_t* size) {
  struct stat st;
  if (fstat(handle, &st) != 0) return MakeError(errno, "fstat");
#if defined(__linux__)
  if (S_ISBLK(st.st_mode)) {
    uint64_t bytes = 0;
    if (ioctl(handle, BLKGETSIZE64, &bytes) != 0) return MakeError(errno, "ioctl");
    *size = bytes;
    return SysError();
  }
#endif
  *size = static_cast<uint64_t>(st.st_size);
  return SysError();
}

SysError Preallocate(NativeHandle handle, uint64_t size, const Geometry& geometry) {
  const uint64_t align = geometry.offset_alignment;
  CLFS_ASSERT(IsPowerOfTwo(align));
  CLFS_ASSERT(size % align == 0);
  uint64_t current = 0;
  SysError error = FileSize(handle, &current);
  if (error.failed()) return error;
  if (current >= size) return SysError();

#if defined(__linux__)
  // Reserve the blocks in one go (one contiguous extent where the filesystem
  // can); the zero writes below then turn unwritten extents into written ones.
  if (fallocate(handle, 0, static_cast<off_t>(current), static_cast<off_t>(size - current)) != 0) {
    int err = errno;
    if (err != EOPNOTSUPP && err != ENOSYS) return MakeError(err, "fallocate");
  }
#endif

  error = WriteZeros(handle, current, size, geometry);
  if (error.failed()) return error;
  // The new size is metadata fdatasync is required to persist (it is needed to
  // read the data back), so one data sync covers both.
  return DataSync(handle);
}

void* AllocateAligned(size_t alignment, size_t size) {
  void* p = nullptr;
  return posix_memalign(&p, alignment, size) == 0 ? p : nullptr;
}

void FreeAligned(void* memory) { free(memory); }

size_t PageSize() {
  long page = sysconf(_SC_PAGESIZE);
  CLFS_ASSERT(page > 0);
  return static_cast<size_t>(page);
}

SysError LockMemory(void* address, size_t length) {
  if (mlock(address, length) != 0) return MakeError(errno, "mlock");
  return SysError();
}

SysError UnlockMemory(void* address, size_t length) {
  if (munlock(address, length) != 0) return MakeError(errno, "munlock");
  return SysError();
}

SysError ExcludeFromFork(void* address, size_t length) {
#if defined(__linux__)
  if (madvise(address, length, MADV_DONTFORK) != 0) return MakeError(errno, "madvise");
#elif defined(__APPLE__)
  if (minherit(address, length, VM_INHERIT_NONE) != 0) return MakeError(errno, "minherit");
#else
  (void)address;
  (void)length;
#endif
  return SysError();
}

SysError IncludeInFork(void* address, size_t length) {
#if defined(__linux__)
  if (madvise(address, length, MADV_DOFORK) != 0) return MakeError(errno, "madvise");
#elif defined(__APPLE__)
  if (minherit(address, length, VM_INHERIT_COPY) != 0) return MakeError(errno, "minherit");
#else
  (void)address;
  (void)length;
#endif
  return SysError();
}

uint64_t MemoryLockLimit() {
  struct rlimit limit;
  if (getrlimit(RLIMIT_MEMLOCK, &limit) != 0) return UINT64_MAX;
  if (limit.rlim_cur == RLIM_INFINITY) return UINT64_MAX;
  return static_cast<uint64_t>(limit.rlim_cur);
}

bool ProcessLockedBytes(uint64_t* bytes) {
#if defined(__linux__)
  FILE* f = fopen("/proc/self/status", "re");
  if (f == nullptr) return false;
  char line[256];
  bool found = false;
  while (fgets(line, sizeof line, f) != nullptr) {
    unsigned long long kib = 0;
    if (sscanf(line, "VmLck: %llu kB", &kib) == 1) {
      *bytes = static_cast<uint64_t>(kib) * 1024;
      found = true;
      break;
    }
  }
  fclose(f);
  return found;
#else
  (void)bytes;
  return false;
#endif
}

}  // namespace platform
}  // namespace clfs

#endif  // !_WIN32
