// The platform layer's own test (issue 12): drives native/platform's API
// directly, with no N-API, no Node and no test framework, so that the same
// checks run natively here (test/native/platform-program.test.ts builds it with
// the system c++), on Windows' API under wine (scripts/windows-platform.mjs,
// cross-built with MinGW) and compile for macOS (npm run check:macos).
//
//   platform_program <scratch directory>
//
// Prints "plan N", then one line per check: "ok NAME", "skip NAME: why" or
// "FAIL NAME: what (line)", then a summary line; exits 1 when a check failed.
// A check is skipped only where the platform in use is known not to honour
// it, found out at run time (wine: no alignment enforcement for
// FILE_FLAG_NO_BUFFERING, no FILE_STORAGE_INFO), never by guessing from the
// build.
#include <errno.h>
#include <string.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#if defined(_WIN32)
#include <windows.h>
#endif

#include "platform/platform.h"

namespace {

namespace p = clfs::platform;
namespace fs = std::filesystem;

struct Outcome {
  bool failed = false;
  bool skipped = false;
  std::string text;
};

struct Context {
  fs::path dir;
  std::string unique;  // the scratch directory's name (a fresh temporary one)
  bool wine = false;
  std::string Path(const char* name) const { return (dir / name).string(); }
};

std::string Describe(const p::SysError& error) {
  std::string text = std::string(p::ErrnoName(error.code)) + " from " +
                     (error.syscall != nullptr ? error.syscall : "?") + " (kind " +
                     std::to_string(static_cast<int>(error.kind)) + ")";
  if (!error.detail.empty()) text += ": " + error.detail;
  return text;
}

#define CHECK(condition)                                                                \
  do {                                                                                  \
    if (!(condition)) {                                                                 \
      out->failed = true;                                                               \
      out->text = std::string(#condition) + " (line " + std::to_string(__LINE__) + ")"; \
      return;                                                                           \
    }                                                                                   \
  } while (0)

#define CHECK_OK(call)                                                                        \
  do {                                                                                        \
    const p::SysError check_error_ = (call);                                                  \
    if (check_error_.failed()) {                                                              \
      out->failed = true;                                                                     \
      out->text = std::string(#call) + " failed with " + Describe(check_error_) + " (line " + \
                  std::to_string(__LINE__) + ")";                                             \
      return;                                                                                 \
    }                                                                                         \
  } while (0)

#define SKIP(reason)      \
  do {                    \
    out->skipped = true;  \
    out->text = (reason); \
    return;               \
  } while (0)

// Wine announces itself in ntdll; real Windows has no such export.
bool UnderWine() {
#if defined(_WIN32)
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  return ntdll != nullptr && GetProcAddress(ntdll, "wine_get_version") != nullptr;
#else
  return false;
#endif
}

// Aligned memory that frees itself.
class Buffer {
 public:
  Buffer(size_t alignment, size_t length)
      : data_(static_cast<uint8_t*>(p::AllocateAligned(alignment, length))), length_(length) {}
  ~Buffer() {
    if (data_ != nullptr) p::FreeAligned(data_);
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  uint8_t* data() const { return data_; }
  size_t length() const { return length_; }
  void Fill(uint8_t seed) {
    for (size_t i = 0; i < length_; i++) data_[i] = static_cast<uint8_t>(seed + i * 7);
  }

 private:
  uint8_t* data_;
  size_t length_;
};

// An opened file that closes itself.
struct File {
  p::OpenedFile opened;
  bool open = false;
  ~File() { Close(); }
  p::SysError Open(const std::string& path, const p::OpenOptions& options) {
    Close();
    p::SysError error = p::OpenFile(path, options, &opened);
    open = !error.failed();
    return error;
  }
  p::SysError Close() {
    if (!open) return p::SysError();
    open = false;
    return p::CloseFile(opened.handle);
  }
  p::NativeHandle handle() const { return opened.handle; }
  // Buffers that satisfy this file's alignment.
  size_t alignment() const {
    return std::max<size_t>(
        {opened.geometry.memory_alignment, opened.geometry.offset_alignment, p::PageSize()});
  }
  size_t sector() const { return opened.geometry.offset_alignment; }
};

p::OpenOptions CreateDirect() {
  p::OpenOptions options;
  options.create = true;
  options.exclusive = true;
  options.allow_buffered = false;
  return options;
}

p::OpenOptions Existing(bool lock) {
  p::OpenOptions options;
  options.lock = lock;
  return options;
}

p::SysError Write(const File& file, const Buffer& buffer, size_t length, uint64_t offset) {
  p::IoSlice slice{buffer.data(), length};
  uint64_t written = 0;
  return p::WriteAt(file.handle(), &slice, 1, offset, &written);
}

bool AllZero(const uint8_t* data, size_t length) {
  return std::all_of(data, data + length, [](uint8_t b) { return b == 0; });
}

// --- the checks

void PageSize(Context&, Outcome* out) {
  const size_t page = p::PageSize();
  CHECK(page >= 4096 && (page & (page - 1)) == 0);
}

void AlignedAllocation(Context&, Outcome* out) {
  for (size_t alignment : {size_t{512}, size_t{4096}, size_t{65536}}) {
    Buffer buffer(alignment, 3 * alignment);
    CHECK(buffer.data() != nullptr);
    CHECK(reinterpret_cast<uintptr_t>(buffer.data()) % alignment == 0);
    memset(buffer.data(), 0xA5, buffer.length());
  }
}

void CreateDirectFile(Context& context, Outcome* out) {
  File file;
  CHECK_OK(file.Open(context.Path("create"), CreateDirect()));
  CHECK(file.opened.direct);
  CHECK(!file.opened.reason.empty());
  CHECK(file.opened.size == 0);
  CHECK_OK(file.Close());
}

void GeometryIsSane(Context& context, Outcome* out) {
  File file;
  CHECK_OK(file.Open(context.Path("geometry"), CreateDirect()));
  const p::Geometry& g = file.opened.geometry;
  const auto power_of_two = [](uint32_t v) { return v != 0 && (v & (v - 1)) == 0; };
  CHECK(power_of_two(g.memory_alignment));
  CHECK(power_of_two(g.offset_alignment));
  CHECK(power_of_two(g.logical_sector_size));
  CHECK(power_of_two(g.physical_sector_size));
  CHECK(g.logical_sector_size >= 512 && g.logical_sector_size <= g.physical_sector_size);
  CHECK(g.offset_alignment <= 65536 && g.memory_alignment <= 65536);
  CHECK(g.source != nullptr && g.source[0] != '\0');
}

// Where the sector size came from: the filesystem's own answer, not a guess.
void GeometryFromTheFilesystem(Context& context, Outcome* out) {
  File file;
  CHECK_OK(file.Open(context.Path("source"), CreateDirect()));
  const std::string source = file.opened.geometry.source;
#if defined(_WIN32)
  if (source != "FILE_STORAGE_INFO" && context.wine) {
    SKIP("wine does not implement FILE_STORAGE_INFO (the sector size came from " + source + ")");
  }
  CHECK(source == "FILE_STORAGE_INFO");
#else
  CHECK(source != "page-size" && source != "buffered");
#endif
}

// The proof that direct I/O is on: the kernel refuses a misaligned transfer
// (a cached file would take it). Writes `length` bytes at `offset` to a new
// file and expects EINVAL.
void ExpectMisalignedRefused(Context& context, const char* name, bool misaligned_offset,
                             Outcome* out) {
  File file;
  CHECK_OK(file.Open(context.Path(name), CreateDirect()));
  Buffer buffer(file.alignment(), 2 * file.alignment());
  buffer.Fill(1);
  const size_t length = misaligned_offset ? file.sector() : file.sector() + file.sector() / 2;
  const p::SysError error = Write(file, buffer, length, misaligned_offset ? 1 : 0);
  if (!error.failed()) {
    if (context.wine) SKIP("wine opens FILE_FLAG_NO_BUFFERING files buffered: no alignment rules");
#if defined(__APPLE__)
    SKIP("F_NOCACHE has no alignment rules");
#endif
  }
  CHECK(error.failed());
  CHECK(error.code == EINVAL);
  CHECK(strcmp(p::ErrnoName(error.code), "EINVAL") == 0);
}

void MisalignedOffsetRefused(Context& context, Outcome* out) {
  ExpectMisalignedRefused(context, "misaligned-offset", true, out);
}

void MisalignedLengthRefused(Context& context, Outcome* out) {
  ExpectMisalignedRefused(context, "misaligned-length", false, out);
}

void VectoredWriteAndRead(Context& context, Outcome* out) {
  File file;
  CHECK_OK(file.Open(context.Path("vectored"), CreateDirect()));
  const size_t a = file.alignment();
  Buffer one(a, a), two(a, 2 * a), three(a, a), back(a, 4 * a);
  one.Fill(10);
  two.Fill(20);
  three.Fill(30);
  p::IoSlice slices[] = {{one.data(), a}, {two.data(), 2 * a}, {three.data(), a}};
  uint64_t written = 0;
  CHECK_OK(p::WriteAt(file.handle(), slices, 3, 2 * a, &written));
  CHECK(written == 4 * a);
  uint64_t size = 0;
  CHECK_OK(p::FileSize(file.handle(), &size));
  CHECK(size == 6 * a);
  uint64_t read = 0;
  CHECK_OK(p::ReadAt(file.handle(), p::IoSlice{back.data(), 4 * a}, 2 * a, &read));
  CHECK(read == 4 * a);
  CHECK(memcmp(back.data(), one.data(), a) == 0);
  CHECK(memcmp(back.data() + a, two.data(), 2 * a) == 0);
  CHECK(memcmp(back.data() + 3 * a, three.data(), a) == 0);
  // The gap before the first write reads as zeros.
  CHECK_OK(p::ReadAt(file.handle(), p::IoSlice{back.data(), 2 * a}, 0, &read));
  CHECK(read == 2 * a && AllZero(back.data(), 2 * a));
  CHECK_OK(p::DataSync(file.handle()));
}

void ReadAtTheEnd(Context& context, Outcome* out) {
  File file;
  CHECK_OK(file.Open(context.Path("end"), CreateDirect()));
  const size_t a = file.alignment();
  Buffer buffer(a, 4 * a);
  buffer.Fill(3);
  CHECK_OK(Write(file, buffer, 2 * a, 0));
  uint64_t read = 0;
  CHECK_OK(p::ReadAt(file.handle(), p::IoSlice{buffer.data(), 4 * a}, 0, &read));
  CHECK(read == 2 * a);  // stops at the end of the file
  CHECK_OK(p::ReadAt(file.handle(), p::IoSlice{buffer.data(), a}, 2 * a, &read));
  CHECK(read == 0);
  CHECK_OK(p::ReadAt(file.handle(), p::IoSlice{buffer.data(), a}, 8 * a, &read));
  CHECK(read == 0);
}

void PinnedBuffers(Context& context, Outcome* out) {
  File file;
  CHECK_OK(file.Open(context.Path("pinned"), CreateDirect()));
  const size_t length = 64 * 1024;
  Buffer pinned(std::max(file.alignment(), p::PageSize()), length);
  CHECK(pinned.data() != nullptr);
  uint64_t before = 0;
  const bool counted = p::ProcessLockedBytes(&before);
  CHECK_OK(p::LockMemory(pinned.data(), length));
  uint64_t after = 0;
  if (counted) {
    CHECK(p::ProcessLockedBytes(&after));
    CHECK(after >= before + length);
  }
  CHECK_OK(p::ExcludeFromFork(pinned.data(), length));
  pinned.Fill(40);
  CHECK_OK(Write(file, pinned, length, 0));
  memset(pinned.data(), 0, length);
  uint64_t read = 0;
  CHECK_OK(p::ReadAt(file.handle(), p::IoSlice{pinned.data(), length}, 0, &read));
  CHECK(read == length);
  Buffer expected(p::PageSize(), length);
  expected.Fill(40);
  CHECK(memcmp(pinned.data(), expected.data(), length) == 0);
  CHECK_OK(p::IncludeInFork(pinned.data(), length));
  CHECK_OK(p::UnlockMemory(pinned.data(), length));
  // Unlocking what is not locked succeeds, as munlock() does.
  CHECK_OK(p::UnlockMemory(pinned.data(), length));
}

// More than Windows' default minimum working set (50 pages) lets a process
// lock: LockMemory raises the minimum working set by the region's size.
void PinMoreThanTheDefaultQuota(Context& context, Outcome* out) {
  const size_t length = 4 * 1024 * 1024;
  const uint64_t limit = p::MemoryLockLimit();
  CHECK(limit > 0);
  if (limit != UINT64_MAX && limit < 2 * length) {
    SKIP("the memory lock limit is " + std::to_string(limit) + " bytes");
  }
  Buffer region(p::PageSize(), length);
  CHECK(region.data() != nullptr);
  memset(region.data(), 1, length);
#if defined(_WIN32)
  SIZE_T minimum_before = 0;
  SIZE_T minimum = 0;
  SIZE_T maximum = 0;
  CHECK(GetProcessWorkingSetSize(GetCurrentProcess(), &minimum_before, &maximum) != 0);
#endif
  CHECK_OK(p::LockMemory(region.data(), length));
#if defined(_WIN32)
  CHECK(GetProcessWorkingSetSize(GetCurrentProcess(), &minimum, &maximum) != 0);
  if (context.wine && minimum == minimum_before) {
    CHECK_OK(p::UnlockMemory(region.data(), length));
    SKIP("wine's VirtualLock does not hold locks to the working set (its minimum stayed " +
         std::to_string(minimum) + " bytes), so raising it is not exercised");
  }
  CHECK(minimum >= length);
#else
  (void)context;
#endif
  CHECK_OK(p::UnlockMemory(region.data(), length));
}

void Preallocation(Context& context, Outcome* out) {
  File file;
  CHECK_OK(file.Open(context.Path("preallocate"), CreateDirect()));
  const size_t a = file.alignment();
  Buffer data(a, a);
  data.Fill(50);
  CHECK_OK(Write(file, data, a, 0));
  const uint64_t target = 1024 * 1024;
  CHECK_OK(p::Preallocate(file.handle(), target, file.opened.geometry));
  uint64_t size = 0;
  CHECK_OK(p::FileSize(file.handle(), &size));
  CHECK(size == target);
  Buffer back(a, a);
  uint64_t read = 0;
  CHECK_OK(p::ReadAt(file.handle(), p::IoSlice{back.data(), a}, 0, &read));
  CHECK(read == a && memcmp(back.data(), data.data(), a) == 0);
  CHECK_OK(p::ReadAt(file.handle(), p::IoSlice{back.data(), a}, target - a, &read));
  CHECK(read == a && AllZero(back.data(), a));
  // A smaller size changes nothing.
  CHECK_OK(p::Preallocate(file.handle(), target / 2, file.opened.geometry));
  CHECK_OK(p::FileSize(file.handle(), &size));
  CHECK(size == target);
}

void WriteZerosKeepsTheHead(Context& context, Outcome* out) {
  File file;
  CHECK_OK(file.Open(context.Path("zeros"), CreateDirect()));
  const size_t s = file.sector();
  const size_t a = file.alignment();
  Buffer data(a, std::max(a, 2 * s));
  data.Fill(60);
  CHECK_OK(Write(file, data, 2 * s, 0));
  CHECK_OK(p::WriteZeros(file.handle(), s + 100, 4 * s, file.opened.geometry));
  Buffer back(a, std::max(a, 4 * s));
  uint64_t read = 0;
  CHECK_OK(p::ReadAt(file.handle(), p::IoSlice{back.data(), 4 * s}, 0, &read));
  CHECK(read == 4 * s);
  CHECK(memcmp(back.data(), data.data(), s + 100) == 0);
  CHECK(AllZero(back.data() + s + 100, 3 * s - 100));
}

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

struct Check {
  const char* name;
  void (*run)(Context&, Outcome*);
};

const Check kChecks[] = {
    {"the page size is a power of two", PageSize},
    {"aligned allocations honour their alignment", AlignedAllocation},
    {"a new file opens for direct I/O", CreateDirectFile},
    {"the geometry is powers of two and consistent", GeometryIsSane},
    {"the sector size comes from the filesystem", GeometryFromTheFilesystem},
    {"direct I/O is on, a misaligned offset is EINVAL", MisalignedOffsetRefused},
    {"direct I/O is on, a misaligned length is EINVAL", MisalignedLengthRefused},
    {"a vectored write reads back, the gap as zeros, and syncs", VectoredWriteAndRead},
    {"reads stop at the end of the file", ReadAtTheEnd},
    {"pinned buffers lock, transfer and unlock", PinnedBuffers},
    {"4 MiB can be pinned (on Windows the working set grows)", PinMoreThanTheDefaultQuota},
    {"preallocation extends with zeros and keeps the data", Preallocation},
    {"WriteZeros keeps the head of a partial sector", WriteZerosKeepsTheHead},
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

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: platform_program <scratch directory>\n");
    return 2;
  }
  Context context;
  context.dir = fs::path(argv[1]) / "platform-program";
  context.unique = fs::path(argv[1]).filename().string();
  context.wine = UnderWine();
  std::error_code error;
  fs::remove_all(context.dir, error);
  fs::create_directories(context.dir, error);
  if (error) {
    std::fprintf(stderr, "cannot create %s: %s\n", context.dir.string().c_str(),
                 error.message().c_str());
    return 2;
  }
  const size_t count = sizeof kChecks / sizeof kChecks[0];
  std::printf("plan %zu%s\n", count, context.wine ? " (under wine)" : "");
  std::fflush(stdout);
  size_t failed = 0;
  size_t skipped = 0;
  for (const Check& check : kChecks) {
    Outcome outcome;
    check.run(context, &outcome);
    if (outcome.failed) {
      failed++;
      std::printf("FAIL %s: %s\n", check.name, outcome.text.c_str());
    } else if (outcome.skipped) {
      skipped++;
      std::printf("skip %s: %s\n", check.name, outcome.text.c_str());
    } else {
      std::printf("ok %s\n", check.name);
    }
    std::fflush(stdout);
  }
  fs::remove_all(context.dir, error);
  std::printf("%zu checks: %zu passed, %zu skipped, %zu failed\n", count, count - failed - skipped,
              skipped, failed);
  return failed == 0 ? 0 : 1;
}
