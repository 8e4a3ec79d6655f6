// The portable engine: a few worker threads per file, each doing one blocking
// system call at a time. Its queue depth is its thread count.
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
    workers_.reserve(depth);
    for (uint32_t i = 0; i < depth; i++) workers_.emplace_back([this] { Run(); });
  }

  ~ThreadEngine() override { Shutdown(); }

  void Submit(std::unique_ptr<Request> request) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      CLFS_ASSERT(!stopping_);
      scheduler_.Enqueue(std::move(request));
    }
    changed_.notify_all();
  }

  void Shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_ && workers_.empty()) return;
      stopping_ = true;
    }
    changed_.notify_all();
    for (std::thread& worker : workers_) worker.join();
    workers_.clear();
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
  void Run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      std::unique_ptr<Request> request = scheduler_.NextStartable();
      if (!request) {
        if (stopping_ && scheduler_.Idle()) return;
        changed_.wait(lock);
        continue;
      }
      // file_ is only written by control requests, which run alone.
      lock.unlock();
      ExecuteBlocking(request.get(), &file_);
      lock.lock();
      scheduler_.Completed(*request);
      lock.unlock();
      changed_.notify_all();
      completion_(std::move(request));
      lock.lock();
    }
  }

  const uint32_t depth_;
  std::mutex mutex_;
  std::condition_variable changed_;
  Scheduler scheduler_;
  bool stopping_ = false;
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
