// The portable engine: worker threads per file, each doing one blocking
// system call at a time. Its queue depth is its thread count. Workers are
// started as requests need them (up to the depth), so a quiet file costs one
// thread, and each wake-up wakes one worker, not all of them.
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "../util/assert.h"
#include "engines.h"

namespace clfs {
namespace io {

namespace {

class ThreadEngine final : public Engine {
 public:
  ThreadEngine(uint32_t depth, Completion completion)
      : depth_(depth), scheduler_(depth), completion_(std::move(completion)) {
    std::lock_guard<std::mutex> lock(mutex_);
    StartWorker();
  }

  ~ThreadEngine() override { Shutdown(); }

  void Submit(std::unique_ptr<Request> request) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      CLFS_ASSERT(!stopping_);
      scheduler_.Enqueue(std::move(request));
      if (idle_ == 0 && workers_.size() < depth_) StartWorker();
    }
    changed_.notify_one();
  }

  void Shutdown() override {
    std::vector<std::thread> workers;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_ && workers_.empty()) return;
      stopping_ = true;
      workers.swap(workers_);
    }
    changed_.notify_all();
    for (std::thread& worker : workers) worker.join();
    // Every request completed before the workers left; a file still open here
    // was never closed by its owner (the binding always closes).
    if (file_.open) {
      platform::CloseFile(file_.handle);
      file_.open = false;
    }
  }

  const char* name() const override { return "threads"; }
  uint32_t depth() const override { return depth_; }

 private:
  // Called with mutex_ held.
  void StartWorker() {
    workers_.emplace_back([this] { Run(); });
  }

  void Run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      std::unique_ptr<Request> request = scheduler_.NextStartable();
      if (!request) {
        if (stopping_ && scheduler_.Idle()) {
          changed_.notify_all();  // let the other workers see it too
          return;
        }
        idle_++;
        changed_.wait(lock);
        idle_--;
        continue;
      }
      // More may be startable: pass the baton to one idle worker.
      if (!scheduler_.Idle() && idle_ > 0) changed_.notify_one();
      // file_ is only written by control requests, which run alone.
      lock.unlock();
      ExecuteBlocking(request.get(), &file_);
      lock.lock();
      scheduler_.Completed(*request);
      // Delivered under the lock: a sync or close that this completion lets
      // start (on another worker) cannot be delivered before it. The
      // completion only queues the request for JavaScript; it never blocks.
      completion_(std::move(request));
      // The loop then looks for what became startable, and passes the baton.
    }
  }

  const uint32_t depth_;
  std::mutex mutex_;
  std::condition_variable changed_;
  Scheduler scheduler_;
  bool stopping_ = false;
  uint32_t idle_ = 0;
  FileState file_;
  Completion completion_;
  std::vector<std::thread> workers_;
};

}  // namespace

std::unique_ptr<Engine> CreateThreadEngine(uint32_t depth, Completion completion) {
  return std::make_unique<ThreadEngine>(depth, std::move(completion));
}

}  // namespace io
}  // namespace clfs
