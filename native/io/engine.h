// The I/O engine: one per open file, owning the file's handle; its I/O never
// runs on the libuv pool. The binding hands it requests and gets each back,
// completed, through the Completion callback. No N-API here. Two kinds:
// - the thread engine runs requests on its own worker threads and calls
//   Completion there (the binding forwards through a thread-safe function);
// - the io_uring engine is fed and reaped on the owner's thread: Submit puts
//   requests in the ring, the kernel signals completion_fd(), and the owner
//   calls Reap(), which calls Completion on the owner's thread. Blocking
//   control requests run on a helper thread of the engine's own.
//
// Ordering, the same in every engine:
// - control requests (open, preallocate, size, close) run alone: after every
//   earlier request has completed and before any later one starts;
// - writes and reads start as soon as they are submitted, several at once;
// - a sync starts once every write submitted before it has completed, so it
//   makes all of them durable; writes submitted after it may overlap it.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "../platform/platform.h"

namespace clfs {
namespace io {

enum class Op : uint8_t { kOpen, kWrite, kRead, kSync, kPreallocate, kSize, kClose };

bool IsControl(Op op);
const char* OpName(Op op);

// A CRC32C to compute just before a write, over bytes [start, start + length)
// of the write's data (the slices laid end to end), with the four bytes at
// `field` counted as zero, then stored there little-endian. The field lies
// inside the range.
struct ChecksumRange {
  uint64_t start;
  uint64_t length;
  uint64_t field;
};

struct Request {
  uint64_t id = 0;  // the submitter's key; the engine never interprets it
  Op op = Op::kSync;
  uint64_t offset = 0;                    // kWrite/kRead: file offset; kPreallocate: the size
  std::vector<platform::IoSlice> slices;  // kWrite: the data; kRead: one slice
  std::vector<ChecksumRange> checksums;   // kWrite only
  std::string path;                       // kOpen
  platform::OpenOptions open_options;     // kOpen

  // Filled in by the engine.
  platform::SysError error;
  uint64_t result = 0;          // bytes written or read; the size for kSize
  platform::OpenedFile opened;  // kOpen

  // kWrite: the write is durable when it completes, as with O_DSYNC
  // (RWF_DSYNC; elsewhere an fdatasync after it).
  bool sync_after = false;

  // Engine bookkeeping.
  uint64_t sequence = 0;
  uint64_t progress = 0;  // bytes done so far (short transfers are resumed)

  uint64_t TotalLength() const;
};

using Completion = std::function<void(std::unique_ptr<Request>)>;

enum class EngineKind : uint8_t { kAuto, kUring, kThreads };

class Engine {
 public:
  virtual ~Engine() = default;
  // Called from the owner's thread only.
  virtual void Submit(std::unique_ptr<Request> request) = 0;
  // Completes everything submitted, then stops the thread(s). Idempotent; no
  // Submit after it. Called on the owner's thread.
  virtual void Shutdown() = 0;
  virtual const char* name() const = 0;
  virtual uint32_t depth() const = 0;
  // Engines completing on the owner's thread: a descriptor that becomes
  // readable when Reap() has work; -1 for engines with threads of their own.
  virtual int completion_fd() const { return -1; }
  // Delivers what has completed (Completion runs inside) and starts what may
  // start now. Owner's thread only.
  virtual void Reap() {}
  // Submissions between these may be handed to the kernel together at
  // EndBatch. Owner's thread only.
  virtual void BeginBatch() {}
  virtual void EndBatch() {}
  // Requests prepared but not yet handed to the kernel (held for the batch's
  // end). Owner's thread only.
  virtual uint32_t unsubmitted() const { return 0; }
};

// kAuto picks io_uring where the kernel allows it, else threads. `threads` is
// the worker count of the thread engine (its queue depth). On failure returns
// null and says why.
std::unique_ptr<Engine> CreateEngine(EngineKind kind, uint32_t depth, Completion completion,
                                     std::string* why_not);

// The file an engine owns, from a completed kOpen to kClose.
struct FileState {
  platform::NativeHandle handle{};
  platform::Geometry geometry;
  bool open = false;
};

// Executes a request with blocking platform calls. Shared by the engines for
// control requests, and the whole of the thread engine's work.
void ExecuteBlocking(Request* request, FileState* file);

// Computes and stores the request's checksums (see ChecksumRange).
void ApplyChecksums(Request* request);

// Decides which submitted requests may start, per the ordering rules above.
// Not thread-safe: the engine serialises access.
class Scheduler {
 public:
  explicit Scheduler(uint32_t capacity) : capacity_(capacity) {}
  void Enqueue(std::unique_ptr<Request> request);
  // The next request allowed to start, now owned by the caller; null if none.
  std::unique_ptr<Request> NextStartable();
  void Completed(const Request& request);
  bool Idle() const { return waiting_.empty() && in_flight_ == 0; }
  uint32_t in_flight() const { return in_flight_; }

 private:
  uint32_t capacity_;
  uint64_t next_sequence_ = 1;
  uint32_t in_flight_ = 0;
  bool control_running_ = false;
  std::deque<std::unique_ptr<Request>> waiting_;
  std::set<uint64_t> writes_in_flight_;  // sequences of started, uncompleted writes
  std::set<uint64_t> writes_waiting_;    // sequences of writes not started yet
};

}  // namespace io
}  // namespace clfs
