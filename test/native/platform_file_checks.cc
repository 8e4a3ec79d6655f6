// The platform program's checks of locks, error names, file kinds and
// durabilities (the harness: platform_program.h).
#include <errno.h>
#include <string.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#if defined(_WIN32)
#include <windows.h>
#endif

#include "platform_program.h"

namespace clfs::platform_test {
namespace {

void ExclusiveLock(Context& context, Outcome* out) {
  const std::string path = context.Path("lock");
  File first;
  CHECK_OK(first.Open(path, CreateDirect()));
  File second;
  const p::SysError refused = second.Open(path, Existing(true));
  CHECK(refused.failed());
  CHECK(refused.kind == p::ErrorKind::kLocked);
  CHECK(refused.code == EWOULDBLOCK);
  // Without the lock the file opens (readers do).
  File reader;
  CHECK_OK(reader.Open(path, Existing(false)));
  CHECK_OK(reader.Close());
  // Closing the holder frees the lock at once.
  CHECK_OK(first.Close());
  File third;
  CHECK_OK(third.Open(path, Existing(true)));
}

void MissingFileIsEnoent(Context& context, Outcome* out) {
  File file;
  const p::SysError error = file.Open(context.Path("missing"), Existing(true));
  CHECK(error.failed() && error.kind == p::ErrorKind::kSystem);
  CHECK(strcmp(p::ErrnoName(error.code), "ENOENT") == 0);
  const p::SysError in_missing_dir =
      file.Open((context.dir / "no-such-dir" / "file").string(), CreateDirect());
  CHECK(strcmp(p::ErrnoName(in_missing_dir.code), "ENOENT") == 0);
  uint64_t size = 0;
  CHECK(strcmp(p::ErrnoName(p::RegularFileSize(context.Path("missing"), &size).code), "ENOENT") ==
        0);
}

void ExistingFileIsEexist(Context& context, Outcome* out) {
  File first;
  CHECK_OK(first.Open(context.Path("exists"), CreateDirect()));
  File second;
  const p::SysError error = second.Open(context.Path("exists"), CreateDirect());
  CHECK(error.failed() && error.kind == p::ErrorKind::kSystem);
  CHECK(strcmp(p::ErrnoName(error.code), "EEXIST") == 0);
  // create without exclusive opens it.
  CHECK_OK(first.Close());
  p::OpenOptions options = CreateDirect();
  options.exclusive = false;
  CHECK_OK(second.Open(context.Path("exists"), options));
}

void DirectoryIsEisdir(Context& context, Outcome* out) {
  std::error_code ignored;
  fs::create_directory(context.dir / "a-directory", ignored);
  File file;
  const p::SysError error = file.Open(context.Path("a-directory"), Existing(true));
  CHECK(error.failed() && error.kind == p::ErrorKind::kSystem);
  CHECK(strcmp(p::ErrnoName(error.code), "EISDIR") == 0);
  p::OpenOptions regular = Existing(true);
  regular.regular_only = true;
  const p::SysError unsafe = file.Open(context.Path("a-directory"), regular);
  CHECK(unsafe.kind == p::ErrorKind::kUnsafeFile);
  CHECK(strcmp(p::ErrnoName(unsafe.code), "EISDIR") == 0);
}

void WriteToReadOnlyIsEbadf(Context& context, Outcome* out) {
  File writer;
  CHECK_OK(writer.Open(context.Path("read-only"), CreateDirect()));
  CHECK_OK(writer.Close());
  p::OpenOptions options = Existing(false);
  options.read_only = true;
  File reader;
  CHECK_OK(reader.Open(context.Path("read-only"), options));
  Buffer buffer(reader.alignment(), reader.alignment());
  buffer.Fill(70);
  const p::SysError error = Write(reader, buffer, reader.alignment(), 0);
  CHECK(error.failed());
  CHECK(strcmp(p::ErrnoName(error.code), "EBADF") == 0);
}

void RegularFileSizeMatches(Context& context, Outcome* out) {
  File file;
  CHECK_OK(file.Open(context.Path("sized"), CreateDirect()));
  Buffer buffer(file.alignment(), 3 * file.alignment());
  buffer.Fill(80);
  CHECK_OK(Write(file, buffer, buffer.length(), 0));
  CHECK_OK(file.Close());
  uint64_t size = 0;
  CHECK_OK(p::RegularFileSize(context.Path("sized"), &size));
  CHECK(size == buffer.length());
}

void Durabilities(Context& context, Outcome* out) {
  for (p::Durability durability : {p::Durability::kFdatasync, p::Durability::kNone}) {
    p::OpenOptions options = CreateDirect();
    options.durability = durability;
    const std::string path = context.Path(
        durability == p::Durability::kNone ? "durability-none" : "durability-fdatasync");
    File file;
    CHECK_OK(file.Open(path, options));
    CHECK(file.opened.direct);
    Buffer buffer(file.alignment(), file.alignment());
    buffer.Fill(90);
    CHECK_OK(Write(file, buffer, buffer.length(), 0));
    CHECK_OK(p::DataSync(file.handle()));
  }
}

void ErrnoNames(Context&, Outcome* out) {
  CHECK(strcmp(p::ErrnoName(ENOENT), "ENOENT") == 0);
  CHECK(strcmp(p::ErrnoName(EIO), "EIO") == 0);
  CHECK(strcmp(p::ErrnoName(-12345), "UNKNOWN") == 0);
  CHECK(!p::ErrnoMessage(ENOENT).empty());
}

// A filesystem that ignores direct I/O is found out and refused (Linux's tmpfs).
void IgnoredDirectIoRefused(Context& context, Outcome* out) {
  std::error_code ignored;
  const fs::path shm = "/dev/shm";
  if (context.wine) SKIP("Windows has no tmpfs");
  if (!fs::is_directory(shm, ignored)) SKIP("no tmpfs at /dev/shm");
  const fs::path dir = shm / ("clfs-platform-" + context.unique);
  fs::create_directory(dir, ignored);
  const std::string path = (dir / "file").string();
  File file;
  const p::SysError error = file.Open(path, CreateDirect());
  p::OpenOptions buffered = CreateDirect();
  buffered.allow_buffered = true;
  File fallback;
  const p::SysError fallback_error = fallback.Open(path, buffered);
  const bool fallback_direct = fallback.opened.direct;
  fallback.Close();
  fs::remove_all(dir, ignored);
  CHECK(error.kind == p::ErrorKind::kDirectUnsupported);
  CHECK(!fallback_error.failed());
  CHECK(!fallback_direct);
}

}  // namespace

const Check kFileChecks[] = {
    {"the exclusive lock refuses a second holder with kLocked", ExclusiveLock},
    {"a missing file or directory is ENOENT", MissingFileIsEnoent},
    {"an existing file with exclusive create is EEXIST", ExistingFileIsEexist},
    {"a directory is EISDIR (regular_only adds kUnsafeFile)", DirectoryIsEisdir},
    {"writing through a read-only handle is EBADF", WriteToReadOnlyIsEbadf},
    {"RegularFileSize says the file's size", RegularFileSizeMatches},
    {"fdatasync and none durabilities write and sync", Durabilities},
    {"errno names and messages", ErrnoNames},
    {"a filesystem that ignores direct I/O is refused", IgnoredDirectIoRefused},
};
const size_t kFileCheckCount = sizeof kFileChecks / sizeof kFileChecks[0];

}  // namespace clfs::platform_test
