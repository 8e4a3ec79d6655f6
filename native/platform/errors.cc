// Error values shared by every platform: SysError construction and errno names.
// Compiled on all platforms. Windows errors are translated to errno values by
// win32.cc before they get here, so one table serves both.
#include <errno.h>

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

}  // namespace platform
}  // namespace clfs
