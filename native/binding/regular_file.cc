#include "regular_file.h"

#include <string>
#include <utility>

#include "../platform/platform.h"
#include "errors.h"

namespace clfs {
namespace binding {

namespace {

// One stat on the libuv pool: it is a lookup, not a log's I/O, and it must
// not hold up the JavaScript thread (a log may have 1024 containers).
class RegularFileSizeWorker final : public Napi::AsyncWorker {
 public:
  RegularFileSizeWorker(Napi::Env env, std::string path)
      : Napi::AsyncWorker(env, "clfs.regularFileSize"),
        path_(std::move(path)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override { error_ = platform::RegularFileSize(path_, &size_); }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (error_.failed()) {
      deferred_.Reject(MakeSystemError(env, error_, path_).Value());
    } else {
      deferred_.Resolve(Napi::Number::New(env, static_cast<double>(size_)));
    }
  }

 private:
  std::string path_;
  Napi::Promise::Deferred deferred_;
  platform::SysError error_;
  uint64_t size_ = 0;
};

// regularFileSize(path) -> Promise<number>
Napi::Value RegularFileSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    Throw(env, "ERR_INVALID_ARG_TYPE", "The \"path\" argument must be a string");
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (path.empty() || path.find('\0') != std::string::npos) {
    Throw(env, "ERR_INVALID_ARG_VALUE",
          "The \"path\" argument must be a non-empty string without NUL");
  }
  auto* worker = new RegularFileSizeWorker(env, std::move(path));
  Napi::Promise promise = worker->Promise();
  worker->Queue();  // the worker deletes itself once it has settled
  return promise;
}

}  // namespace

void RegisterRegularFile(Napi::Env env, Napi::Object exports) {
  exports.Set("regularFileSize", Napi::Function::New<RegularFileSize>(env, "regularFileSize"));
}

}  // namespace binding
}  // namespace clfs
