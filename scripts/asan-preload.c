// Preloaded by scripts/test-asan.mjs ahead of the ASan runtime, into every
// process of `npm run test:asan`. Not part of the library.
//
// ASan replaces mlock and munlock with functions that do nothing (mlock on a
// process with terabytes of shadow mappings once deadlocked kernels), so
// pinned buffers would not be locked, VmLck would stay 0 and RLIMIT_MEMLOCK
// would never be reached. The tests check all three. These definitions come
// first in symbol lookup and make the system calls.
#define _GNU_SOURCE
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

int mlock(const void* addr, size_t len) { return (int)syscall(SYS_mlock, addr, len); }

int munlock(const void* addr, size_t len) { return (int)syscall(SYS_munlock, addr, len); }
