// regular_only on Linux and macOS (see regular_file.h and platform.h).
//
// A log's files are looked up by name in their directory, opened once, so
// that the checks and the open see the same directory. A file is opened with
// O_NOFOLLOW (a symbolic link fails with ELOOP), O_NONBLOCK (opening a FIFO
// never waits for a peer) and O_NOCTTY (a terminal never becomes ours), and
// fstat'ed before anything else is done with the descriptor: no I/O, no
// lock, no ioctl reaches a FIFO or a device.
#if !defined(_WIN32)

#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/assert.h"
#include "regular_file.h"

namespace clfs {
namespace platform {
namespace regular {

namespace {

// A file's type, for a message.
const char* FileTypeName(mode_t mode) {
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISREG(mode)) return "a regular file";
  return "a file of unknown type";
}

// What the checks look at: a stat, and on Linux the mount the file is on (a
// file bind-mounted over a name of the directory can be on the directory's
// device, but is not on its mount).
struct Facts {
  mode_t mode = 0;
  nlink_t links = 0;
  dev_t device = 0;
  ino_t inode = 0;
  uint64_t size = 0;
  bool has_mount = false;
  uint64_t mount = 0;
};

// Facts of `name` in directory `dir`, not following a symbolic link, or of
// the descriptor `dir` itself when `name` is null. Returns errno, or 0.
int FactsOf(int dir, const char* name, Facts* facts) {
  struct stat st;
  const int rc = name == nullptr ? fstat(dir, &st) : fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW);
  if (rc != 0) return errno;
  facts->mode = st.st_mode;
  facts->links = st.st_nlink;
  facts->device = st.st_dev;
  facts->inode = st.st_ino;
  facts->size = static_cast<uint64_t>(st.st_size);
#if defined(__linux__) && defined(STATX_MNT_ID)
  // Linux 5.8+; where it is not reported, the device check stands alone.
  struct statx sx;
  memset(&sx, 0, sizeof sx);
  const int flags = name == nullptr ? AT_EMPTY_PATH : AT_SYMLINK_NOFOLLOW;
  if (statx(dir, name == nullptr ? "" : name, flags, STATX_MNT_ID, &sx) == 0 &&
      (sx.stx_mask & STATX_MNT_ID) != 0) {
    facts->has_mount = true;
    facts->mount = sx.stx_mnt_id;
  }
#endif
  return 0;
}

}  // namespace

SysError UnsafeFile(int code, const char* syscall, const std::string& detail) {
  SysError error = MakeError(code, syscall);
  error.kind = ErrorKind::kUnsafeFile;
  error.detail = detail;
  return error;
}

Directory::~Directory() {
  if (fd_ >= 0) close(fd_);
}

SysError Directory::Open(const std::string& path) {
  CLFS_ASSERT(fd_ < 0);
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? std::string(".")
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  name_ = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name_.empty() || name_ == "." || name_ == "..") {
    return UnsafeFile(EISDIR, "open", "a directory");
  }
  do {
    fd_ = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } while (fd_ < 0 && errno == EINTR);
  if (fd_ < 0) return MakeError(errno, "open");
  Facts facts;
  const int err = FactsOf(fd_, nullptr, &facts);
  if (err != 0) return MakeError(err, "fstat");
  CLFS_ASSERT(S_ISDIR(facts.mode));
  device_ = facts.device;
  has_mount_ = facts.has_mount;
  mount_ = facts.mount;
  return SysError();
}

int Directory::OpenFile(int flags) const {
  CLFS_ASSERT(fd_ >= 0);
  int fd;
  do {
    fd = openat(fd_, name_.c_str(), flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0644);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

SysError Directory::OpenFailure(int err) const {
  Facts facts;
  if (FactsOf(fd_, name_.c_str(), &facts) == 0 && !S_ISREG(facts.mode)) {
    return UnsafeFile(err, "open", FileTypeName(facts.mode));
  }
  return MakeError(err, "open");
}

namespace {

SysError Check(const Facts& facts, uint64_t device, bool has_mount, uint64_t mount,
               const char* syscall) {
  if (!S_ISREG(facts.mode)) return UnsafeFile(0, syscall, FileTypeName(facts.mode));
  // Its last name went between the lookup and now.
  if (facts.links == 0) return MakeError(ENOENT, syscall);
  if (facts.links != 1) {
    return UnsafeFile(0, syscall,
                      "a regular file with " + std::to_string(facts.links) +
                          " links (a hard link: a name elsewhere is the same file)");
  }
  if (static_cast<uint64_t>(facts.device) != device) {
    return UnsafeFile(0, syscall, "a file on another device than its directory");
  }
  if (facts.has_mount && has_mount && facts.mount != mount) {
    return UnsafeFile(0, syscall, "a file mounted over a name of its directory");
  }
  return SysError();
}

}  // namespace

SysError Directory::CheckOpened(int fd) const {
  Facts facts;
  const int err = FactsOf(fd, nullptr, &facts);
  if (err != 0) return MakeError(err, "fstat");
  SysError error = Check(facts, device_, has_mount_, mount_, "fstat");
  if (error.failed()) return error;
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) return MakeError(errno, "fcntl");
  return SysError();
}

SysError Directory::CheckStillNamed(int fd) const {
  // Another handle may have renamed or removed the file (a log being
  // deleted) while this one waited for the lock; a lock on a file that is
  // gone protects nothing.
  Facts held;
  Facts named;
  int err = FactsOf(fd, nullptr, &held);
  if (err != 0) return MakeError(err, "fstat");
  err = FactsOf(fd_, name_.c_str(), &named);
  if (err == ENOENT || (err == 0 && (named.device != held.device || named.inode != held.inode))) {
    SysError error = MakeError(ENOENT, "open");
    error.detail = "the file was removed or renamed while it was being locked";
    return error;
  }
  if (err != 0) return MakeError(err, "fstatat");
  return SysError();
}

SysError Directory::SizeOfName(uint64_t* size) const {
  CLFS_ASSERT(size != nullptr);
  Facts facts;
  const int err = FactsOf(fd_, name_.c_str(), &facts);
  if (err != 0) return MakeError(err, "fstatat");
  SysError error = Check(facts, device_, has_mount_, mount_, "fstatat");
  if (error.failed()) return error;
  *size = facts.size;
  return SysError();
}

void Directory::Unlink() const {
  CLFS_ASSERT(fd_ >= 0);
  unlinkat(fd_, name_.c_str(), 0);
}

}  // namespace regular

SysError RegularFileSize(const std::string& path, uint64_t* size) {
  regular::Directory directory;
  SysError error = directory.Open(path);
  if (error.failed()) return error;
  return directory.SizeOfName(size);
}

}  // namespace platform
}  // namespace clfs

#endif  // !_WIN32
