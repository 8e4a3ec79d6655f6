// DirectFile: the JavaScript face of one io::Engine. It checks every request
// (alignment of address, offset and length, bounds of checksum ranges) before
// anything reaches the kernel, keeps the buffers of requests in flight
// referenced, and settles one Promise per request when the engine hands the
// request back through a thread-safe function.
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "../io/engine.h"

#if defined(__linux__)
#include <uv.h>
#endif

namespace clfs {
namespace binding {

class DirectFile : public Napi::ObjectWrap<DirectFile> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  explicit DirectFile(const Napi::CallbackInfo& info);
  ~DirectFile() override;

 private:
  enum class State { kNew, kOpening, kOpen, kClosing, kClosed };

  struct Pending {
    io::Op op;
    Napi::Promise::Deferred deferred;
    std::vector<Napi::ObjectReference> keep;  // memory the kernel is using
  };

  // The thread-safe function's context. It outlives this object when
  // completions are still queued at environment teardown; owner is then null.
  struct Sink {
    DirectFile* owner;
  };
  static void CallJs(Napi::Env env, Napi::Function callback, Sink* sink, io::Request* request);
  using Tsfn = Napi::TypedThreadSafeFunction<Sink, io::Request, CallJs>;

  struct Stats {
    double writes = 0, bytes_written = 0, reads = 0, bytes_read = 0, syncs = 0;
    double rejected_before_io = 0;  // requests refused by the checks here
  };

  Napi::Value Open(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Sync(const Napi::CallbackInfo& info);
  Napi::Value Preallocate(const Napi::CallbackInfo& info);
  Napi::Value Size(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetStats(const Napi::CallbackInfo& info);

  std::unique_ptr<io::Request> PrepareWrite(const Napi::CallbackInfo& info,
                                            std::vector<Napi::ObjectReference>* keep);
  Napi::Value Submit(Napi::Env env, std::unique_ptr<io::Request> request,
                     std::vector<Napi::ObjectReference> keep);
  void OnComplete(Napi::Env env, std::unique_ptr<io::Request> request);
  Napi::Value ResultOf(Napi::Env env, const io::Request& request);
  Napi::Object InfoObject(Napi::Env env);
  void RequireOpen(Napi::Env env, const char* what);
  [[noreturn]] void Misaligned(Napi::Env env, const std::string& what, uint64_t value,
                               uint64_t alignment, const char* kind);
  // Takes a slice from a Uint8Array after checking it; records a reference.
  platform::IoSlice TakeSlice(Napi::Env env, Napi::Value value, const std::string& name,
                              std::vector<Napi::ObjectReference>* keep);
  void StopEngine();
  void SetLoopReferenced(Napi::Env env, bool referenced);
#if defined(__linux__)
  static void OnPoll(uv_poll_t* handle, int status, int events);
#endif
  void RemoveCleanupHook();
  static void EnvCleanup(void* self);

  State state_ = State::kNew;
  std::string path_;
  platform::OpenedFile opened_;
  platform::Durability durability_ = platform::Durability::kDsync;
  std::unique_ptr<io::Engine> engine_;
  Tsfn tsfn_;
  bool tsfn_live_ = false;
  bool cleanup_hook_ = false;  // registered and not yet run or removed
  bool loop_referenced_ = false;
  // Engines that complete on this thread (io_uring): their completion_fd is
  // watched from the event loop, and completions are delivered directly.
  bool completes_here_ = false;
  bool stopping_ = false;
  std::unique_ptr<Napi::AsyncContext> async_context_;
#if defined(__linux__)
  uv_poll_t* poll_ = nullptr;
#endif
  Sink* sink_ = nullptr;
  napi_env env_ = nullptr;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Pending> pending_;
  Stats stats_;
};

}  // namespace binding
}  // namespace clfs
