// What every engine shares: the ordering rules (Scheduler), blocking
// execution of a request, and checksums computed just before a write.
#include "engine.h"

#include <cstring>

#include "../crc32c/crc32c.h"
#include "../util/assert.h"
#include "engines.h"

namespace clfs {
namespace io {

bool IsControl(Op op) {
  return op == Op::kOpen || op == Op::kPreallocate || op == Op::kSize || op == Op::kClose;
}

const char* OpName(Op op) {
  switch (op) {
    case Op::kOpen:
      return "open";
    case Op::kWrite:
      return "write";
    case Op::kRead:
      return "read";
    case Op::kSync:
      return "sync";
    case Op::kPreallocate:
      return "preallocate";
    case Op::kSize:
      return "size";
    case Op::kClose:
      return "close";
  }
  CLFS_ASSERT(false && "unknown op");
  return "";
}

uint64_t Request::TotalLength() const {
  uint64_t total = 0;
  for (const platform::IoSlice& slice : slices) total += slice.length;
  return total;
}

namespace {

// Calls fn(pointer, length) for each contiguous piece of the bytes
// [start, start + length) of the slices laid end to end.
template <typename Fn>
void ForEachPiece(const std::vector<platform::IoSlice>& slices, uint64_t start, uint64_t length,
                  Fn fn) {
  uint64_t position = 0;
  for (const platform::IoSlice& slice : slices) {
    if (length == 0) return;
    const uint64_t end = position + slice.length;
    if (start < end) {
      const uint64_t skip = start - position;
      const uint64_t take = std::min<uint64_t>(slice.length - skip, length);
      fn(slice.base + skip, static_cast<size_t>(take));
      start += take;
      length -= take;
    }
    position = end;
  }
  CLFS_ASSERT(length == 0);
}

}  // namespace

void ApplyChecksums(Request* request) {
  for (const ChecksumRange& range : request->checksums) {
    CLFS_ASSERT(range.field >= range.start && range.field + 4 <= range.start + range.length);
    ForEachPiece(request->slices, range.field, 4,
                 [](uint8_t* p, size_t n) { std::memset(p, 0, n); });
    uint32_t crc = 0;
    ForEachPiece(request->slices, range.start, range.length,
                 [&crc](uint8_t* p, size_t n) { crc = crc32c::Extend(crc, p, n); });
    uint8_t bytes[4] = {static_cast<uint8_t>(crc), static_cast<uint8_t>(crc >> 8),
                        static_cast<uint8_t>(crc >> 16), static_cast<uint8_t>(crc >> 24)};
    size_t at = 0;
    ForEachPiece(request->slices, range.field, 4, [&](uint8_t* p, size_t n) {
      std::memcpy(p, bytes + at, n);
      at += n;
    });
  }
}

void ExecuteBlocking(Request* request, FileState* file) {
  if (request->op == Op::kClose && !file->open) return;  // the open failed: nothing to close
  CLFS_ASSERT(request->op == Op::kOpen ? !file->open : file->open);
  switch (request->op) {
    case Op::kOpen:
      request->error = platform::OpenFile(request->path, request->open_options, &request->opened);
      if (!request->error.failed()) {
        file->handle = request->opened.handle;
        file->geometry = request->opened.geometry;
        file->open = true;
      }
      return;
    case Op::kWrite:
      ApplyChecksums(request);
      request->error = platform::WriteAt(file->handle, request->slices.data(),
                                         request->slices.size(), request->offset, &request->result);
      if (!request->error.failed() && request->sync_after) {
        request->error = platform::DataSync(file->handle);
      }
      return;
    case Op::kRead:
      CLFS_ASSERT(request->slices.size() == 1);
      request->error =
          platform::ReadAt(file->handle, request->slices[0], request->offset, &request->result);
      return;
    case Op::kSync:
      request->error = platform::DataSync(file->handle);
      return;
    case Op::kPreallocate:
      request->error = platform::Preallocate(file->handle, request->offset, file->geometry);
      return;
    case Op::kSize:
      request->error = platform::FileSize(file->handle, &request->result);
      return;
    case Op::kClose:
      request->error = platform::CloseFile(file->handle);
      // The descriptor is gone even when close reports an error.
      file->open = false;
      return;
  }
  CLFS_ASSERT(false && "unknown op");
}

void Scheduler::Enqueue(std::unique_ptr<Request> request) {
  request->sequence = next_sequence_++;
  if (request->op == Op::kWrite) writes_waiting_.insert(request->sequence);
  waiting_.push_back(std::move(request));
}

std::unique_ptr<Request> Scheduler::NextStartable() {
  if (control_running_ || in_flight_ >= capacity_) return nullptr;
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
    Request* request = it->get();
    if (IsControl(request->op)) {
      // Runs alone, and nothing after it may start before it has run.
      if (it != waiting_.begin() || in_flight_ != 0) return nullptr;
      control_running_ = true;
    } else if (request->op == Op::kSync) {
      const uint64_t sequence = request->sequence;
      const bool earlier_write_pending =
          (!writes_in_flight_.empty() && *writes_in_flight_.begin() < sequence) ||
          (!writes_waiting_.empty() && *writes_waiting_.begin() < sequence);
      if (earlier_write_pending) continue;  // later writes and reads may still go
    } else if (request->op == Op::kWrite) {
      writes_waiting_.erase(request->sequence);
      writes_in_flight_.insert(request->sequence);
    }
    std::unique_ptr<Request> started = std::move(*it);
    waiting_.erase(it);
    in_flight_++;
    return started;
  }
  return nullptr;
}

void Scheduler::Completed(const Request& request) {
  CLFS_ASSERT(in_flight_ > 0);
  in_flight_--;
  if (IsControl(request.op)) {
    CLFS_ASSERT(control_running_);
    control_running_ = false;
  } else if (request.op == Op::kWrite) {
    size_t erased = writes_in_flight_.erase(request.sequence);
    CLFS_ASSERT(erased == 1);
  }
}

std::unique_ptr<Engine> CreateEngine(EngineKind kind, uint32_t depth, Completion completion,
                                     std::string* why_not) {
  CLFS_ASSERT(depth > 0);
  if (kind == EngineKind::kUring || kind == EngineKind::kAuto) {
    std::string reason;
    std::unique_ptr<Engine> engine = CreateUringEngine(depth, completion, &reason);
    if (engine) return engine;
    if (kind == EngineKind::kUring) {
      *why_not = reason;
      return nullptr;
    }
  }
  return CreateThreadEngine(depth, std::move(completion));
}

}  // namespace io
}  // namespace clfs
