// The io_uring engine (Linux): the owner's thread (the JavaScript thread)
// puts requests straight into the ring and reaps completions itself when the
// kernel signals the ring's eventfd, which the binding watches from the event
// loop. A request therefore costs one wake-up of the JavaScript thread, as a
// blocking pwrite costs one wake-up of the thread that made it, and one file
// reaches the queue depths the device needs (this disk: ~12.5k durable 4 KiB
// writes/s at depth 1, ~100k at depth 64).
//
// Blocking control requests (open, preallocate, size, close) run on a helper
// thread, which hands them back through the same eventfd.
//
// Raw system calls against <linux/io_uring.h>: liburing is not a package a
// fresh machine has, and the part needed is small. The ring protocol is
// https://man7.org/linux/man-pages/man7/io_uring.7.html: we produce SQEs and
// publish the SQ tail with a release store; we consume CQEs after an acquire
// load of the CQ tail and hand the head back with a release store.
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../util/assert.h"
#include "engines.h"

#if defined(__linux__)
#include <errno.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#endif

namespace clfs {
namespace io {

#if defined(__linux__)

namespace {

// A request while the kernel has it.
struct InFlight {
  std::unique_ptr<Request> request;
  std::vector<struct iovec> iov;
};

// IORING_SETUP_COOP_TASKRUN, for headers older than Linux 5.19.
constexpr unsigned kSetupCoopTaskrun = 1U << 8;
#ifdef IORING_SETUP_COOP_TASKRUN
static_assert(kSetupCoopTaskrun == IORING_SETUP_COOP_TASKRUN, "the kernel's value");
#endif

int IoUringSetup(unsigned entries, struct io_uring_params* params) {
  return static_cast<int>(syscall(__NR_io_uring_setup, entries, params));
}

int IoUringEnter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags) {
  return static_cast<int>(
      syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, nullptr, 0));
}

int IoUringRegister(int fd, unsigned opcode, void* arg, unsigned count) {
  return static_cast<int>(syscall(__NR_io_uring_register, fd, opcode, arg, count));
}

const char* SyscallName(Op op) {
  switch (op) {
    case Op::kWrite:
      return "writev (io_uring)";
    case Op::kRead:
      return "read (io_uring)";
    case Op::kSync:
      return "fdatasync (io_uring)";
    default:
      CLFS_ASSERT(false && "control requests do not go through the ring");
      return "";
  }
}

class UringEngine final : public Engine {
 public:
  UringEngine(uint32_t depth, Completion completion)
      : depth_(depth), scheduler_(depth), completion_(std::move(completion)) {}

  ~UringEngine() override {
    Shutdown();
    if (sqes_ != nullptr) munmap(sqes_, sqes_size_);
    if (cq_ring_ != nullptr && cq_ring_ != sq_ring_) munmap(cq_ring_, cq_ring_size_);
    if (sq_ring_ != nullptr) munmap(sq_ring_, sq_ring_size_);
    if (ring_fd_ >= 0) close(ring_fd_);
    if (event_fd_ >= 0) close(event_fd_);
  }

  bool Init(std::string* why_not) {
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    // COOP_TASKRUN (Linux 5.19): a completion does not interrupt the owner's
    // thread (an IPI, then task work) to post its CQE; the thread posts it on
    // its next entry to the kernel, and is woken if it sleeps (in epoll_wait,
    // where the event loop waits). With 64 writes in flight the interrupts
    // cost a third of the throughput: 4 KiB O_DSYNC writes at depth 64, in C
    // on this VM, 61-67k/s without, 85-107k/s with (fio sets it too).
    // Kernels that do not know the flag refuse it with EINVAL: then without.
    params.flags = kSetupCoopTaskrun;
    ring_fd_ = IoUringSetup(depth_, &params);
    if (ring_fd_ < 0 && errno == EINVAL) {
      memset(&params, 0, sizeof params);
      ring_fd_ = IoUringSetup(depth_, &params);
    }
    if (ring_fd_ < 0) return Fail(why_not, "io_uring_setup failed");
    if (!SupportsOps(why_not)) return false;
    sq_ring_size_ = params.sq_off.array + params.sq_entries * sizeof(uint32_t);
    cq_ring_size_ = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
    const bool single_mmap = (params.features & IORING_FEAT_SINGLE_MMAP) != 0;
    if (single_mmap) sq_ring_size_ = cq_ring_size_ = std::max(sq_ring_size_, cq_ring_size_);
    sq_ring_ = MapRing(sq_ring_size_, IORING_OFF_SQ_RING);
    if (sq_ring_ == nullptr) return Fail(why_not, "mmap of the submission ring failed");
    cq_ring_ = single_mmap ? sq_ring_ : MapRing(cq_ring_size_, IORING_OFF_CQ_RING);
    if (cq_ring_ == nullptr) return Fail(why_not, "mmap of the completion ring failed");
    sqes_size_ = params.sq_entries * sizeof(struct io_uring_sqe);
    void* sqes = MapRing(sqes_size_, IORING_OFF_SQES);
    if (sqes == nullptr) return Fail(why_not, "mmap of the submission entries failed");
    sqes_ = static_cast<struct io_uring_sqe*>(sqes);

    uint8_t* sq = static_cast<uint8_t*>(sq_ring_);
    sq_head_ = reinterpret_cast<unsigned*>(sq + params.sq_off.head);
    sq_tail_ = reinterpret_cast<unsigned*>(sq + params.sq_off.tail);
    sq_mask_ = *reinterpret_cast<unsigned*>(sq + params.sq_off.ring_mask);
    sq_entries_ = params.sq_entries;
    sq_array_ = reinterpret_cast<unsigned*>(sq + params.sq_off.array);
    sq_local_tail_ = *sq_tail_;
    uint8_t* cq = static_cast<uint8_t*>(cq_ring_);
    cq_head_ = reinterpret_cast<unsigned*>(cq + params.cq_off.head);
    cq_tail_ = reinterpret_cast<unsigned*>(cq + params.cq_off.tail);
    cq_mask_ = *reinterpret_cast<unsigned*>(cq + params.cq_off.ring_mask);
    cqes_ = reinterpret_cast<struct io_uring_cqe*>(cq + params.cq_off.cqes);
    CLFS_ASSERT(sq_entries_ >= depth_);
    CLFS_ASSERT(params.cq_entries >= depth_);

    event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (event_fd_ < 0) return Fail(why_not, "eventfd failed");
    if (IoUringRegister(ring_fd_, IORING_REGISTER_EVENTFD, &event_fd_, 1) != 0) {
      return Fail(why_not, "registering the ring's eventfd failed");
    }
    control_ = std::thread([this] { ControlLoop(); });
    return true;
  }

  void Submit(std::unique_ptr<Request> request) override {
    CLFS_ASSERT(!stopped_);
    scheduler_.Enqueue(std::move(request));
    Pump();
  }

  // Requests submitted between these go to the kernel in one io_uring_enter
  // (the binding brackets the delivery of a batch of completions, and the
  // JavaScript that runs after them, which typically submits again), except
  // reads and writes of kEagerSubmitBytes or more, which go at once: that
  // JavaScript may run on promise reactions for milliseconds (a streaming
  // loop filling and sealing block after block, a scan serving a block's
  // records while the next block is read ahead), and the device would idle
  // while they waited for the batch's end.
  void BeginBatch() override { batching_ = true; }
  void EndBatch() override {
    batching_ = false;
    SubmitEntries();
  }

  int completion_fd() const override { return event_fd_; }
  uint32_t unsubmitted() const override { return to_submit_; }

  void Reap() override {
    uint64_t count;
    // Cleared first: anything completing after this read signals again.
    while (read(event_fd_, &count, sizeof count) < 0 && errno == EINTR) {
    }
    std::vector<std::unique_ptr<Request>> finished;
    HarvestRing(&finished);
    HarvestControl(&finished);
    Pump();
    // Completions last: they may submit again (re-entering Submit).
    for (std::unique_ptr<Request>& request : finished) completion_(std::move(request));
  }

  void Shutdown() override {
    if (stopped_ || ring_fd_ < 0) return;
    batching_ = false;
    // Complete everything submitted, waiting on the eventfd between reaps.
    while (!scheduler_.Idle()) {
      Reap();
      if (scheduler_.Idle()) break;
      struct pollfd p = {event_fd_, POLLIN, 0};
      while (poll(&p, 1, -1) < 0 && errno == EINTR) {
      }
    }
    stopped_ = true;
    {
      std::lock_guard<std::mutex> lock(control_mutex_);
      control_stop_ = true;
    }
    control_wake_.notify_one();
    if (control_.joinable()) control_.join();
    if (file_.open) {
      platform::CloseFile(file_.handle);
      file_.open = false;
    }
  }

  const char* name() const override { return "io_uring"; }
  uint32_t depth() const override { return depth_; }

 private:
  bool Fail(std::string* why_not, const char* what) {
    *why_not = std::string(what) + ": " + strerror(errno);
    return false;
  }

  void* MapRing(size_t size, off_t offset) {
    void* p =
        mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd_, offset);
    return p == MAP_FAILED ? nullptr : p;
  }

  // A sandbox may allow io_uring_setup yet filter opcodes; ask the kernel.
  bool SupportsOps(std::string* why_not) {
    const size_t size = sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
    std::vector<uint8_t> storage(size, 0);
    auto* probe = reinterpret_cast<struct io_uring_probe*>(storage.data());
    if (IoUringRegister(ring_fd_, IORING_REGISTER_PROBE, probe, 256) != 0) {
      return Fail(why_not, "io_uring probe failed");
    }
    for (unsigned op : {IORING_OP_WRITEV, IORING_OP_READ, IORING_OP_FSYNC}) {
      if (op > probe->last_op || !(probe->ops[op].flags & IO_URING_OP_SUPPORTED)) {
        *why_not = "the kernel's io_uring lacks an operation clfs needs";
        return false;
      }
    }
    return true;
  }

  struct io_uring_sqe* NextSqe() {
    const unsigned head = __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE);
    // At most depth requests are in the ring.
    CLFS_ASSERT(sq_local_tail_ - head < sq_entries_);
    const unsigned index = sq_local_tail_ & sq_mask_;
    struct io_uring_sqe* sqe = &sqes_[index];
    memset(sqe, 0, sizeof *sqe);
    sq_array_[index] = index;
    sq_local_tail_++;
    to_submit_++;
    return sqe;
  }

  // Puts a request (new, or resumed after a short transfer) into the ring.
  void Prepare(InFlight* flight) {
    Request* request = flight->request.get();
    struct io_uring_sqe* sqe = NextSqe();
    sqe->fd = file_.handle;
    sqe->user_data = reinterpret_cast<uint64_t>(flight);
    switch (request->op) {
      case Op::kWrite: {
        // The iovecs past what is already written.
        flight->iov.clear();
        uint64_t skip = request->progress;
        for (const platform::IoSlice& slice : request->slices) {
          if (skip >= slice.length) {
            skip -= slice.length;
            continue;
          }
          struct iovec v;
          v.iov_base = slice.base + skip;
          v.iov_len = slice.length - skip;
          skip = 0;
          flight->iov.push_back(v);
        }
        CLFS_ASSERT(!flight->iov.empty());
        sqe->opcode = IORING_OP_WRITEV;
        sqe->addr = reinterpret_cast<uint64_t>(flight->iov.data());
        sqe->len = static_cast<uint32_t>(flight->iov.size());
        sqe->off = request->offset + request->progress;
        // A durable write: RWF_DSYNC, as if the file had O_DSYNC. (A write
        // linked to an fdatasync costs ~1.5x here: the ring runs fsync on a
        // kernel worker thread.)
        if (request->sync_after) sqe->rw_flags = RWF_DSYNC;
        for (const struct iovec& v : flight->iov) unsubmitted_bytes_ += v.iov_len;
        return;
      }
      case Op::kRead: {
        CLFS_ASSERT(request->slices.size() == 1);
        const platform::IoSlice& slice = request->slices[0];
        sqe->opcode = IORING_OP_READ;
        sqe->addr = reinterpret_cast<uint64_t>(slice.base + request->progress);
        sqe->len = static_cast<uint32_t>(slice.length - request->progress);
        sqe->off = request->offset + request->progress;
        unsubmitted_bytes_ += sqe->len;
        return;
      }
      case Op::kSync:
        sqe->opcode = IORING_OP_FSYNC;
        sqe->fsync_flags = IORING_FSYNC_DATASYNC;
        return;
      default:
        CLFS_ASSERT(false && "control requests do not go through the ring");
    }
  }

  // Starts everything the ordering rules allow, then submits the entries.
  void Pump() {
    while (std::unique_ptr<Request> request = scheduler_.NextStartable()) {
      if (IsControl(request->op)) {
        {
          std::lock_guard<std::mutex> lock(control_mutex_);
          control_todo_.push_back(std::move(request));
        }
        control_wake_.notify_one();
        continue;
      }
      if (request->op == Op::kWrite) ApplyChecksums(request.get());
      auto* flight = new InFlight{std::move(request), {}};
      Prepare(flight);
    }
    SubmitEntries();
  }

  void SubmitEntries() {
    if (to_submit_ == 0 || (batching_ && unsubmitted_bytes_ < kEagerSubmitBytes)) return;
    unsubmitted_bytes_ = 0;
    __atomic_store_n(sq_tail_, sq_local_tail_, __ATOMIC_RELEASE);
    for (;;) {
      int n = IoUringEnter(ring_fd_, to_submit_, 0, 0);
      if (n >= 0) {
        CLFS_ASSERT(static_cast<unsigned>(n) <= to_submit_);
        to_submit_ -= static_cast<unsigned>(n);
        if (to_submit_ == 0 || n == 0) return;  // the rest at the next reap
        continue;
      }
      if (errno == EINTR) continue;
      // EAGAIN / EBUSY: the kernel is short of resources or its completion
      // queue is full; what is left goes in at the next reap.
      if (errno == EAGAIN || errno == EBUSY) return;
      fprintf(stderr, "clfs: io_uring_enter failed: %s\n", strerror(errno));
      CLFS_ASSERT(false && "io_uring_enter failed");
    }
  }

  void HarvestRing(std::vector<std::unique_ptr<Request>>* finished) {
    unsigned head = *cq_head_;
    for (;;) {
      const unsigned tail = __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE);
      if (head == tail) break;
      const struct io_uring_cqe& cqe = cqes_[head & cq_mask_];
      auto* flight = reinterpret_cast<InFlight*>(cqe.user_data);
      const int res = cqe.res;
      head++;
      __atomic_store_n(cq_head_, head, __ATOMIC_RELEASE);
      std::unique_ptr<Request> done = Settle(flight, res);
      if (done) {
        scheduler_.Completed(*done);
        finished->push_back(std::move(done));
      }
    }
  }

  // A flight's completion: finishes its request (returned), or puts it back
  // in the ring to continue (null): interrupted, or a short transfer.
  std::unique_ptr<Request> Settle(InFlight* flight, int res) {
    Request* request = flight->request.get();
    if (res == -EINTR || res == -EAGAIN) {
      Prepare(flight);
      return nullptr;
    }
    if (res < 0) {
      request->error = platform::MakeError(-res, SyscallName(request->op));
    } else if (request->op != Op::kSync) {
      request->progress += static_cast<uint64_t>(res);
      const bool short_transfer = request->progress < request->TotalLength();
      if (request->op == Op::kWrite && short_transfer && res == 0) {
        request->error = platform::MakeError(EIO, SyscallName(request->op));  // never spin
      } else if (short_transfer && res > 0) {
        // Writes continue after what was written; reads until the end of file.
        Prepare(flight);
        return nullptr;
      }
    }
    request->result = request->progress;
    std::unique_ptr<InFlight> owned(flight);
    return std::move(owned->request);
  }

  void HarvestControl(std::vector<std::unique_ptr<Request>>* finished) {
    std::vector<std::unique_ptr<Request>> done;
    {
      std::lock_guard<std::mutex> lock(control_mutex_);
      done.swap(control_done_);
    }
    for (std::unique_ptr<Request>& request : done) {
      scheduler_.Completed(*request);
      finished->push_back(std::move(request));
    }
  }

  // The helper thread: blocking control requests, handed back through the
  // eventfd. file_ is only touched here while no ring request is in flight
  // (control requests run alone), and the mutex orders it with the owner.
  void ControlLoop() {
    std::unique_lock<std::mutex> lock(control_mutex_);
    for (;;) {
      control_wake_.wait(lock, [this] { return control_stop_ || !control_todo_.empty(); });
      if (control_todo_.empty()) return;  // stopping, nothing left
      std::unique_ptr<Request> request = std::move(control_todo_.front());
      control_todo_.pop_front();
      lock.unlock();
      ExecuteBlocking(request.get(), &file_);
      lock.lock();
      control_done_.push_back(std::move(request));
      const uint64_t one = 1;
      while (write(event_fd_, &one, sizeof one) < 0 && errno == EINTR) {
      }
    }
  }

  const uint32_t depth_;
  Scheduler scheduler_;  // owner's thread only
  Completion completion_;
  FileState file_;
  bool stopped_ = false;
  bool batching_ = false;
  // Bytes of reads and writes in the ring not yet submitted (see BeginBatch).
  uint64_t unsubmitted_bytes_ = 0;
  static constexpr uint64_t kEagerSubmitBytes = 64 * 1024;

  std::mutex control_mutex_;
  std::condition_variable control_wake_;
  std::deque<std::unique_ptr<Request>> control_todo_;
  std::vector<std::unique_ptr<Request>> control_done_;
  bool control_stop_ = false;
  std::thread control_;

  int ring_fd_ = -1;
  int event_fd_ = -1;
  void* sq_ring_ = nullptr;
  void* cq_ring_ = nullptr;
  size_t sq_ring_size_ = 0;
  size_t cq_ring_size_ = 0;
  size_t sqes_size_ = 0;
  struct io_uring_sqe* sqes_ = nullptr;
  unsigned* sq_head_ = nullptr;
  unsigned* sq_tail_ = nullptr;
  unsigned* sq_array_ = nullptr;
  unsigned sq_mask_ = 0;
  unsigned sq_entries_ = 0;
  unsigned sq_local_tail_ = 0;
  unsigned to_submit_ = 0;
  unsigned* cq_head_ = nullptr;
  unsigned* cq_tail_ = nullptr;
  unsigned cq_mask_ = 0;
  struct io_uring_cqe* cqes_ = nullptr;
};

}  // namespace

std::unique_ptr<Engine> CreateUringEngine(uint32_t depth, Completion completion,
                                          std::string* why_not) {
  auto engine = std::make_unique<UringEngine>(depth, std::move(completion));
  if (!engine->Init(why_not)) return nullptr;
  return engine;
}

#else

std::unique_ptr<Engine> CreateUringEngine(uint32_t, Completion, std::string* why_not) {
  *why_not = "io_uring exists only on Linux";
  return nullptr;
}

#endif

}  // namespace io
}  // namespace clfs
