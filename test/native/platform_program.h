// The platform program's harness (test/native/platform_program.cc says what
// the program is): the outcome of a check, its CHECK / CHECK_OK / SKIP
// macros, and files and aligned buffers that clean up after themselves. The
// checks live in platform_io_checks.cc (memory, geometry, transfers,
// preallocation) and platform_file_checks.cc (locks, errors, durabilities).
#ifndef CLFS_TEST_NATIVE_PLATFORM_PROGRAM_H_
#define CLFS_TEST_NATIVE_PLATFORM_PROGRAM_H_

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "platform/platform.h"

namespace clfs::platform_test {

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

// "ENOENT from open (kind 1): detail".
std::string Describe(const p::SysError& error);

// True under Wine (found at run time, never guessed from the build).
bool UnderWine();

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

inline p::OpenOptions CreateDirect() {
  p::OpenOptions options;
  options.create = true;
  options.exclusive = true;
  options.allow_buffered = false;
  return options;
}

inline p::OpenOptions Existing(bool lock) {
  p::OpenOptions options;
  options.lock = lock;
  return options;
}

// Writes `length` bytes of `buffer` at `offset`; a short write is EIO.
inline p::SysError Write(const File& file, const Buffer& buffer, size_t length, uint64_t offset) {
  p::IoSlice slice{buffer.data(), length};
  uint64_t written = 0;
  p::SysError error = p::WriteAt(file.handle(), &slice, 1, offset, &written);
  if (!error.failed() && written != length) {
    error = p::MakeError(EIO, "WriteAt");
    error.detail = "a short write: " + std::to_string(written) + " of " + std::to_string(length);
  }
  return error;
}

inline bool AllZero(const uint8_t* data, size_t length) {
  return std::all_of(data, data + length, [](uint8_t b) { return b == 0; });
}

struct Check {
  const char* name;
  void (*run)(Context&, Outcome*);
};

// The checks, in the order they run: platform_io_checks.cc's, then
// platform_file_checks.cc's.
extern const Check kIoChecks[];
extern const size_t kIoCheckCount;
extern const Check kFileChecks[];
extern const size_t kFileCheckCount;

}  // namespace clfs::platform_test

#endif  // CLFS_TEST_NATIVE_PLATFORM_PROGRAM_H_
