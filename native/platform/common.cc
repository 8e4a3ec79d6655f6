// What every platform shares, built on the primitives of posix.cc / win32.cc:
// SysError construction, errno names (Windows errors are translated to errno
// values by win32.cc before they get here, so one table serves both), and
// writing zeros over a file's new part.
#include <errno.h>
#include <string.h>

#include <algorithm>
#include <memory>

#include "../util/assert.h"
#include "platform.h"

namespace clfs {
namespace platform {

SysError MakeError(int code, const char* syscall) {
  SysError error;
  error.code = code;
  error.syscall = syscall;
  return error;
}

const char* ErrnoName(int code) {
  switch (code) {
#define CLFS_ERRNO_CASE(name) \
  case name:                  \
    return #name;
    CLFS_ERRNO_CASE(EPERM)
    CLFS_ERRNO_CASE(ENOENT)
    CLFS_ERRNO_CASE(EINTR)
    CLFS_ERRNO_CASE(EIO)
    CLFS_ERRNO_CASE(ENXIO)
    CLFS_ERRNO_CASE(E2BIG)
    CLFS_ERRNO_CASE(EBADF)
    CLFS_ERRNO_CASE(EAGAIN)
    CLFS_ERRNO_CASE(ENOMEM)
    CLFS_ERRNO_CASE(EACCES)
    CLFS_ERRNO_CASE(EFAULT)
    CLFS_ERRNO_CASE(EBUSY)
    CLFS_ERRNO_CASE(EEXIST)
    CLFS_ERRNO_CASE(EXDEV)
    CLFS_ERRNO_CASE(ENODEV)
    CLFS_ERRNO_CASE(ENOTDIR)
    CLFS_ERRNO_CASE(EISDIR)
    CLFS_ERRNO_CASE(EINVAL)
    CLFS_ERRNO_CASE(ENFILE)
    CLFS_ERRNO_CASE(EMFILE)
    CLFS_ERRNO_CASE(ETXTBSY)
    CLFS_ERRNO_CASE(EFBIG)
    CLFS_ERRNO_CASE(ENOSPC)
    CLFS_ERRNO_CASE(ESPIPE)
    CLFS_ERRNO_CASE(EROFS)
    CLFS_ERRNO_CASE(EMLINK)
    CLFS_ERRNO_CASE(EPIPE)
    CLFS_ERRNO_CASE(ERANGE)
    CLFS_ERRNO_CASE(ENAMETOOLONG)
    CLFS_ERRNO_CASE(ENOSYS)
    CLFS_ERRNO_CASE(ENOTEMPTY)
    CLFS_ERRNO_CASE(ELOOP)
    CLFS_ERRNO_CASE(EOVERFLOW)
    CLFS_ERRNO_CASE(EOPNOTSUPP)
    CLFS_ERRNO_CASE(ETIMEDOUT)
    CLFS_ERRNO_CASE(ECANCELED)
#if defined(EDQUOT)  // the Windows C runtime has no EDQUOT
    CLFS_ERRNO_CASE(EDQUOT)
#endif
#if EWOULDBLOCK != EAGAIN  // distinct on Windows (140 vs 11), equal on Linux
    CLFS_ERRNO_CASE(EWOULDBLOCK)
#endif
#if defined(ENOTSUP) && ENOTSUP != EOPNOTSUPP  // distinct on macOS and Windows
    CLFS_ERRNO_CASE(ENOTSUP)
#endif
#undef CLFS_ERRNO_CASE
    default:
      return "UNKNOWN";
  }
}

namespace {

struct FreeAlignedDeleter {
  void operator()(uint8_t* p) const { FreeAligned(p); }
};

}  // namespace

SysError WriteZeros(NativeHandle handle, uint64_t from, uint64_t to, const Geometry& geometry) {
  const uint64_t align = geometry.offset_alignment;
  CLFS_ASSERT(align > 0 && (align & (align - 1)) == 0);
  CLFS_ASSERT(to % align == 0);
  if (from >= to) return SysError();
  const size_t chunk = 1 << 20;
  const size_t buffer_alignment = std::max<size_t>(
      {static_cast<size_t>(geometry.memory_alignment), static_cast<size_t>(align), PageSize()});
  std::unique_ptr<uint8_t, FreeAlignedDeleter> zeros(
      static_cast<uint8_t*>(AllocateAligned(buffer_alignment, chunk)));
  if (!zeros) return MakeError(ENOMEM, "AllocateAligned");
  memset(zeros.get(), 0, chunk);

  uint64_t position = from / align * align;
  if (position < from) {
    // The old end is inside a sector: keep its bytes, zero the rest of it.
    uint64_t got = 0;
    IoSlice head{zeros.get(), static_cast<size_t>(align)};
    SysError error = ReadAt(handle, head, position, &got);
    if (error.failed()) return error;
    // Past the end of the file the read left zeros; inside it, [from, the
    // sector's end) is zeroed here.
    const size_t keep = static_cast<size_t>(from - position);
    memset(zeros.get() + keep, 0, static_cast<size_t>(align) - keep);
    uint64_t written = 0;
    error = WriteAt(handle, &head, 1, position, &written);
    if (error.failed()) return error;
    memset(zeros.get(), 0, static_cast<size_t>(align));
    position += align;
  }
  while (position < to) {
    IoSlice slice{zeros.get(), static_cast<size_t>(std::min<uint64_t>(chunk, to - position))};
    uint64_t written = 0;
    SysError error = WriteAt(handle, &slice, 1, position, &written);
    if (error.failed()) return error;
    position += slice.length;
  }
  return SysError();
}

}  // namespace platform
}  // namespace clfs
