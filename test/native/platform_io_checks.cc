// The platform program's checks of memory, geometry, transfers and
// preallocation (the harness: platform_program.h).
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
#elif defined(__APPLE__)
  SKIP("F_NOCACHE: macOS reports no sector size to align to (source " + source + ")");
#else
  CHECK(source == "statx" || source == "sysfs" || source == "BLKSSZGET");
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

// 2**50 bytes: more than any volume here holds and past ext4's largest file.
// It must fail at once, not after writing zeros until the volume is full (the
// zero-writing fallback where reserving is not implemented, as under Wine).
void PreallocationBeyondTheVolume(Context& context, Outcome* out) {
  File file;
  CHECK_OK(file.Open(context.Path("preallocate-huge"), CreateDirect()));
  const uint64_t huge = uint64_t{1} << 50;
  const p::SysError error = p::Preallocate(file.handle(), huge, file.opened.geometry);
  CHECK(error.failed() && error.kind == p::ErrorKind::kSystem);
  const std::string name = p::ErrnoName(error.code);
  CHECK(name == "ENOSPC" || name == "EFBIG");
  uint64_t size = 0;
  CHECK_OK(p::FileSize(file.handle(), &size));
  CHECK(size == 0);
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

}  // namespace

const Check kIoChecks[] = {
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
    {"preallocating past the volume is ENOSPC or EFBIG at once", PreallocationBeyondTheVolume},
    {"WriteZeros keeps the head of a partial sector", WriteZerosKeepsTheHead},
};
const size_t kIoCheckCount = sizeof kIoChecks / sizeof kIoChecks[0];

}  // namespace clfs::platform_test
