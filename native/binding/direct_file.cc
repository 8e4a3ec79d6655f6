#include "direct_file.h"

#include <string>
#include <utility>

#include "../util/assert.h"
#include "aligned_memory.h"
#include "errors.h"
#include "util.h"

namespace clfs {
namespace binding {

namespace {

constexpr uint32_t kMaxDepth = 4096;
constexpr size_t kMaxSlices = 1024;  // UIO_MAXIOV: the kernel's cap on one vectored write

const char* DurabilityName(platform::Durability durability) {
  switch (durability) {
    case platform::Durability::kDsync:
      return "dsync";
    case platform::Durability::kFdatasync:
      return "fdatasync";
    case platform::Durability::kNone:
      return "none";
  }
  CLFS_ASSERT(false && "unknown durability");
  return "";
}

bool BoolOption(const Napi::Object& options, const char* name, bool fallback) {
  Napi::Value value = options.Get(name);
  return value.IsUndefined() ? fallback : value.ToBoolean().Value();
}

std::string StringOption(const Napi::Object& options, const char* name, const char* fallback) {
  Napi::Value value = options.Get(name);
  if (value.IsUndefined()) return fallback;
  if (!value.IsString()) {
    Throw(options.Env(), "ERR_INVALID_ARG_TYPE",
          std::string("The \"options.") + name + "\" property must be a string");
  }
  return value.As<Napi::String>().Utf8Value();
}

}  // namespace

Napi::Function DirectFile::DefineClass(Napi::Env env) {
  return ObjectWrap<DirectFile>::DefineClass(
      env, "DirectFile",
      {
          InstanceMethod<&DirectFile::Open>("open"),
          InstanceMethod<&DirectFile::Write>("write"),
          InstanceMethod<&DirectFile::Read>("read"),
          InstanceMethod<&DirectFile::Sync>("sync"),
          InstanceMethod<&DirectFile::Preallocate>("preallocate"),
          InstanceMethod<&DirectFile::Size>("size"),
          InstanceMethod<&DirectFile::Close>("close"),
          InstanceMethod<&DirectFile::GetStats>("stats"),
      });
}

// new DirectFile({ engine: 'auto' | 'uring' | 'threads', depth })
DirectFile::DirectFile(const Napi::CallbackInfo& info) : ObjectWrap<DirectFile>(info) {
  Napi::Env env = info.Env();
  env_ = env;
  Napi::Object options = ArgObject(info, 0, "options");
  const std::string engine_name = StringOption(options, "engine", "auto");
  io::EngineKind kind;
  if (engine_name == "auto") {
    kind = io::EngineKind::kAuto;
  } else if (engine_name == "uring") {
    kind = io::EngineKind::kUring;
  } else if (engine_name == "threads") {
    kind = io::EngineKind::kThreads;
  } else {
    Throw(env, "ERR_INVALID_ARG_VALUE",
          "options.engine must be 'auto', 'uring' or 'threads', got '" + engine_name + "'");
  }
  uint32_t depth = 64;
  if (!options.Get("depth").IsUndefined()) {
    Napi::Value value = options.Get("depth");
    if (!value.IsNumber()) Throw(env, "ERR_INVALID_ARG_TYPE", "options.depth must be a number");
    const double number = value.As<Napi::Number>().DoubleValue();
    if (!(number >= 1 && number <= kMaxDepth) || number != static_cast<uint32_t>(number)) {
      Throw(env, "ERR_OUT_OF_RANGE",
            "options.depth must be an integer from 1 to " + std::to_string(kMaxDepth));
    }
    depth = static_cast<uint32_t>(number);
  }

  sink_ = new Sink{this};
  tsfn_ = Tsfn::New(env, "clfs.DirectFile", 0, 1, sink_,
                    [](Napi::Env, void*, Sink* sink) { delete sink; });
  tsfn_live_ = true;
  tsfn_.Unref(env);  // only pending requests keep the event loop alive

  Tsfn tsfn = tsfn_;
  std::string why_not;
  engine_ = io::CreateEngine(
      kind, depth,
      [this, tsfn](std::unique_ptr<io::Request> request) mutable {
        if (completes_here_) {
          // On this thread, inside Reap(): deliver now, unless shutting down
          // (then JavaScript may not run; the promises are abandoned).
          if (!stopping_) OnComplete(Napi::Env(env_), std::move(request));
          return;
        }
        io::Request* raw = request.release();
        // Fails only while the environment is being torn down.
        if (tsfn.BlockingCall(raw) != napi_ok) delete raw;
      },
      &why_not);
  if (!engine_) {
    tsfn_.Release();
    tsfn_live_ = false;
    Throw(env, "ERR_CLFS_ENGINE_UNAVAILABLE", "the io_uring engine is not available: " + why_not);
  }
#if defined(__linux__)
  if (engine_->completion_fd() >= 0) {
    completes_here_ = true;
    async_context_ = std::make_unique<Napi::AsyncContext>(env, "clfs.DirectFile");
    uv_loop_t* loop = nullptr;
    napi_status loop_status = napi_get_uv_event_loop(env, &loop);
    CLFS_ASSERT(loop_status == napi_ok && loop != nullptr);
    poll_ = new uv_poll_t;
    CLFS_ASSERT(uv_poll_init(loop, poll_, engine_->completion_fd()) == 0);
    poll_->data = this;
    CLFS_ASSERT(uv_poll_start(poll_, UV_READABLE, OnPoll) == 0);
    uv_unref(reinterpret_cast<uv_handle_t*>(poll_));  // only pending requests keep the loop alive
  }
#endif
  // Registered after the thread-safe function's own hook, so it runs first at
  // teardown: the engine thread stops before the function it calls goes away.
  napi_status status = napi_add_env_cleanup_hook(env, EnvCleanup, this);
  CLFS_ASSERT(status == napi_ok);
  cleanup_hook_ = true;
}

DirectFile::~DirectFile() {
  StopEngine();
  RemoveCleanupHook();
}

void DirectFile::RemoveCleanupHook() {
  // A hook left behind would run on a freed object, and a new DirectFile at
  // the same address could not register its own.
  if (!cleanup_hook_) return;
  cleanup_hook_ = false;
  napi_status status = napi_remove_env_cleanup_hook(env_, EnvCleanup, this);
  CLFS_ASSERT(status == napi_ok);
}

void DirectFile::EnvCleanup(void* self) {
  auto* file = static_cast<DirectFile*>(self);
  file->cleanup_hook_ = false;  // the environment removes a hook as it runs it
  file->StopEngine();
}

#if defined(__linux__)
void DirectFile::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* file = static_cast<DirectFile*>(handle->data);
  if (file == nullptr) return;
  Napi::Env env(file->env_);
  io::Engine* engine = file->engine_.get();
  // Whatever the completions' JavaScript submits goes to the kernel at once.
  engine->BeginBatch();
  {
    Napi::HandleScope scope(env);
    // Promise reactions run when this scope closes, as after any callback.
    Napi::CallbackScope callback(env, *file->async_context_);
    try {
      engine->Reap();
    } catch (const Napi::Error&) {
      // Only when JavaScript can no longer run (a worker being terminated).
    }
  }
  engine->EndBatch();
}
#endif

// Stops the engine (completing what it holds) and lets go of the thread-safe
// function. Completions still queued in it find no owner and are dropped.
void DirectFile::StopEngine() {
  stopping_ = true;
#if defined(__linux__)
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
    poll_ = nullptr;
  }
#endif
  if (engine_) engine_->Shutdown();
  if (tsfn_live_) {
    sink_->owner = nullptr;
    tsfn_.Release();
    tsfn_live_ = false;
  }
}

void DirectFile::CallJs(Napi::Env env, Napi::Function, Sink* sink, io::Request* request) {
  std::unique_ptr<io::Request> owned(request);
  if (static_cast<napi_env>(env) == nullptr || sink == nullptr || sink->owner == nullptr) return;
  try {
    sink->owner->OnComplete(env, std::move(owned));
  } catch (const Napi::Error&) {
    // Only when JavaScript can no longer run (a worker being terminated):
    // nothing is left to settle.
  }
}

void DirectFile::RequireOpen(Napi::Env env, const char* what) {
  if (state_ == State::kOpen) return;
  stats_.rejected_before_io++;
  Throw(env, "ERR_CLFS_CLOSED",
        std::string("cannot ") + what + ": the file " +
            (state_ == State::kNew || state_ == State::kOpening ? "is not open" : "is closed") +
            (path_.empty() ? "" : " ('" + path_ + "')"));
}

void DirectFile::Misaligned(Napi::Env env, const std::string& what, uint64_t value,
                            uint64_t alignment, const char* kind) {
  Napi::Object details = Napi::Object::New(env);
  details.Set("misaligned", Napi::String::New(env, kind));
  details.Set("alignment", Napi::Number::New(env, static_cast<double>(alignment)));
  details.Set("misalignment", Napi::Number::New(env, static_cast<double>(value % alignment)));
  if (!path_.empty()) details.Set("path", Napi::String::New(env, path_));
  throw MakeClfsError(
      env, "ERR_CLFS_MISALIGNED",
      what + " is misaligned by " + std::to_string(value % alignment) + " bytes: '" + path_ +
          "' needs " + std::to_string(alignment) + "-byte " +
          (std::string(kind) == "address" ? "aligned memory" : "multiples for offsets and lengths"),
      details);
}

platform::IoSlice DirectFile::TakeSlice(Napi::Env env, Napi::Value value, const std::string& name,
                                        std::vector<Napi::ObjectReference>* keep) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Throw(env, "ERR_INVALID_ARG_TYPE", "The \"" + name + "\" argument must be a Uint8Array");
  }
  Napi::Uint8Array array = value.As<Napi::Uint8Array>();
  // A plain ArrayBuffer can be detached (transferred) while the kernel reads
  // or writes its memory, and freed under it; a SharedArrayBuffer cannot.
  Napi::Value memory = array.Get("buffer");
  bool detachable = false;
  napi_status status = napi_is_arraybuffer(env, memory, &detachable);
  CLFS_ASSERT(status == napi_ok);
  if (detachable) {
    Throw(env, "ERR_INVALID_ARG_VALUE",
          "The \"" + name +
              "\" buffer must be memory from alignedBuffer() (a SharedArrayBuffer): an "
              "ArrayBuffer could be detached while the I/O is in flight");
  }
  const uint64_t memory_alignment = opened_.geometry.memory_alignment;
  const uint64_t length_alignment = opened_.geometry.offset_alignment;
  const uint64_t misalignment = Misalignment(array, memory_alignment);
  if (misalignment != 0)
    Misaligned(env, name + "'s address", misalignment, memory_alignment, "address");
  if (array.ByteLength() % length_alignment != 0) {
    Misaligned(env, name + "'s length (" + std::to_string(array.ByteLength()) + ")",
               array.ByteLength(), length_alignment, "length");
  }
  keep->push_back(Napi::Persistent(array.As<Napi::Object>()));
  return platform::IoSlice{TypedArrayData(array), array.ByteLength()};
}

Napi::Value DirectFile::Submit(Napi::Env env, std::unique_ptr<io::Request> request,
                               std::vector<Napi::ObjectReference> keep) {
  CLFS_ASSERT(engine_ != nullptr);
  const uint64_t id = next_id_++;
  request->id = id;
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  Napi::Promise promise = deferred.Promise();
  pending_.emplace(id, Pending{request->op, deferred, std::move(keep)});
  SetLoopReferenced(env, true);
  engine_->Submit(std::move(request));
  return promise;
}

// Pending I/O keeps the process alive, and this object with it.
void DirectFile::SetLoopReferenced(Napi::Env env, bool referenced) {
  if (referenced == loop_referenced_) return;
  loop_referenced_ = referenced;
  if (referenced) {
    if (tsfn_live_) tsfn_.Ref(env);
#if defined(__linux__)
    if (poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
#endif
    Ref();
  } else {
    if (tsfn_live_) tsfn_.Unref(env);
#if defined(__linux__)
    if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
#endif
    Unref();
  }
}

// open(path, { create, exclusive, readOnly, lock, allowBuffered, durability, regularOnly })
Napi::Value DirectFile::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ != State::kNew) Throw(env, "ERR_CLFS_CLOSED", "open() may be called once");
  if (!info[0].IsString())
    Throw(env, "ERR_INVALID_ARG_TYPE", "The \"path\" argument must be a string");
  Napi::Object options = ArgObject(info, 1, "options");
  auto request = std::make_unique<io::Request>();
  request->op = io::Op::kOpen;
  request->path = info[0].As<Napi::String>().Utf8Value();
  if (request->path.empty() || request->path.find('\0') != std::string::npos) {
    Throw(env, "ERR_INVALID_ARG_VALUE",
          "The \"path\" argument must be a non-empty string without NUL");
  }
  platform::OpenOptions& open = request->open_options;
  open.create = BoolOption(options, "create", false);
  open.exclusive = BoolOption(options, "exclusive", false);
  open.read_only = BoolOption(options, "readOnly", false);
  open.lock = BoolOption(options, "lock", true);
  open.allow_buffered = BoolOption(options, "allowBuffered", false);
  open.regular_only = BoolOption(options, "regularOnly", false);
  const std::string durability = StringOption(options, "durability", "dsync");
  if (durability == "dsync") {
    open.durability = platform::Durability::kDsync;
  } else if (durability == "fdatasync") {
    open.durability = platform::Durability::kFdatasync;
  } else if (durability == "none") {
    open.durability = platform::Durability::kNone;
  } else {
    Throw(env, "ERR_INVALID_ARG_VALUE",
          "options.durability must be 'dsync', 'fdatasync' or 'none', got '" + durability + "'");
  }
  durability_ = open.durability;
  path_ = request->path;
  state_ = State::kOpening;
  return Submit(env, std::move(request), {});
}

// write(offset, buffers[], checksums?: [{ start, length, field }], sync?: boolean)
// With sync, the request includes an fdatasync after the write.
Napi::Value DirectFile::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env, "write");
  std::vector<Napi::ObjectReference> keep;
  std::unique_ptr<io::Request> request;
  try {
    request = PrepareWrite(info, &keep);
  } catch (const Napi::Error&) {
    stats_.rejected_before_io++;  // refused before any I/O
    throw;
  }
  stats_.writes++;
  stats_.bytes_written += static_cast<double>(request->TotalLength());
  return Submit(env, std::move(request), std::move(keep));
}

std::unique_ptr<io::Request> DirectFile::PrepareWrite(const Napi::CallbackInfo& info,
                                                      std::vector<Napi::ObjectReference>* keep) {
  Napi::Env env = info.Env();
  const uint64_t offset = ArgIndex(info, 0, "offset");
  const uint64_t alignment = opened_.geometry.offset_alignment;
  if (offset % alignment != 0)
    Misaligned(env, "the write offset (" + std::to_string(offset) + ")", offset, alignment,
               "offset");
  auto request = std::make_unique<io::Request>();
  request->op = io::Op::kWrite;
  request->offset = offset;
  if (info[1].IsArray()) {
    Napi::Array buffers = info[1].As<Napi::Array>();
    const uint32_t count = buffers.Length();
    if (count == 0 || count > kMaxSlices) {
      Throw(env, "ERR_OUT_OF_RANGE",
            "a write takes 1 to " + std::to_string(kMaxSlices) + " buffers, got " +
                std::to_string(count));
    }
    request->slices.reserve(count);
    for (uint32_t i = 0; i < count; i++) {
      request->slices.push_back(
          TakeSlice(env, buffers.Get(i), "buffers[" + std::to_string(i) + "]", keep));
    }
  } else {
    request->slices.push_back(TakeSlice(env, info[1], "buffer", keep));
  }
  const uint64_t total = request->TotalLength();
  if (total == 0) Throw(env, "ERR_INVALID_ARG_VALUE", "nothing to write: the buffers are empty");

  if (!info[2].IsUndefined()) {
    if (!info[2].IsArray()) Throw(env, "ERR_INVALID_ARG_TYPE", "checksums must be an array");
    Napi::Array ranges = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < ranges.Length(); i++) {
      Napi::Value item = ranges.Get(i);
      if (!item.IsObject()) Throw(env, "ERR_INVALID_ARG_TYPE", "checksums[i] must be an object");
      Napi::Object range = item.As<Napi::Object>();
      auto field = [&](const char* name) -> uint64_t {
        Napi::Value v = range.Get(name);
        const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
        if (!(d >= 0 && d <= static_cast<double>(total)) ||
            d != static_cast<double>(static_cast<uint64_t>(d))) {
          Throw(env, "ERR_OUT_OF_RANGE",
                std::string("checksums[") + std::to_string(i) + "]." + name +
                    " must be an integer within the write's " + std::to_string(total) + " bytes");
        }
        return static_cast<uint64_t>(d);
      };
      io::ChecksumRange r{field("start"), field("length"), field("field")};
      if (r.start + r.length > total || r.field < r.start || r.field + 4 > r.start + r.length) {
        Throw(env, "ERR_OUT_OF_RANGE",
              "checksums[" + std::to_string(i) +
                  "]: the range must lie within the write and hold its 4-byte field");
      }
      request->checksums.push_back(r);
    }
  }
  request->sync_after = info[3].ToBoolean().Value();
  return request;
}

// read(offset, buffer) -> bytes read (fewer at the end of the file)
Napi::Value DirectFile::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env, "read");
  auto request = std::make_unique<io::Request>();
  request->op = io::Op::kRead;
  std::vector<Napi::ObjectReference> keep;
  try {
    request->offset = ArgIndex(info, 0, "offset");
    const uint64_t alignment = opened_.geometry.offset_alignment;
    if (request->offset % alignment != 0) {
      Misaligned(env, "the read offset (" + std::to_string(request->offset) + ")", request->offset,
                 alignment, "offset");
    }
    request->slices.push_back(TakeSlice(env, info[1], "buffer", &keep));
    if (request->slices[0].length == 0) {
      Throw(env, "ERR_INVALID_ARG_VALUE", "the read buffer is empty");
    }
  } catch (const Napi::Error&) {
    stats_.rejected_before_io++;  // refused before any I/O
    throw;
  }
  stats_.reads++;
  return Submit(env, std::move(request), std::move(keep));
}

Napi::Value DirectFile::Sync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env, "sync");
  auto request = std::make_unique<io::Request>();
  request->op = io::Op::kSync;
  stats_.syncs++;
  return Submit(env, std::move(request), {});
}

// preallocate(size): size is a multiple of the offset alignment
Napi::Value DirectFile::Preallocate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env, "preallocate");
  const uint64_t size = ArgIndex(info, 0, "size");
  const uint64_t alignment = opened_.geometry.offset_alignment;
  if (size % alignment != 0)
    Misaligned(env, "the preallocation size (" + std::to_string(size) + ")", size, alignment,
               "length");
  auto request = std::make_unique<io::Request>();
  request->op = io::Op::kPreallocate;
  request->offset = size;
  return Submit(env, std::move(request), {});
}

Napi::Value DirectFile::Size(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env, "get the size");
  auto request = std::make_unique<io::Request>();
  request->op = io::Op::kSize;
  return Submit(env, std::move(request), {});
}

// close(): waits for everything in flight; a second call is a no-op. Called
// while the open is under way, it closes right after the open.
Napi::Value DirectFile::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ == State::kNew || state_ == State::kClosed) {
    state_ = State::kClosed;
    StopEngine();
    RemoveCleanupHook();
    Napi::Promise::Deferred done = Napi::Promise::Deferred::New(env);
    done.Resolve(env.Undefined());
    return done.Promise();
  }
  // kOpening, kOpen or kClosing: the engine runs a close after everything
  // submitted before it (a close of a file already closed does nothing).
  state_ = State::kClosing;
  auto request = std::make_unique<io::Request>();
  request->op = io::Op::kClose;
  return Submit(env, std::move(request), {});
}

Napi::Value DirectFile::GetStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("writes", stats_.writes);
  result.Set("bytesWritten", stats_.bytes_written);
  result.Set("reads", stats_.reads);
  result.Set("bytesRead", stats_.bytes_read);
  result.Set("syncs", stats_.syncs);
  result.Set("rejectedBeforeIo", stats_.rejected_before_io);
  result.Set("inFlight", static_cast<double>(pending_.size()));
  result.Set("unsubmitted", engine_ ? static_cast<double>(engine_->unsubmitted()) : 0.0);
  return result;
}

Napi::Object DirectFile::InfoObject(Napi::Env env) {
  const platform::Geometry& g = opened_.geometry;
  Napi::Object result = Napi::Object::New(env);
  result.Set("path", path_);
  result.Set("direct", opened_.direct);
  result.Set("reason", opened_.reason);
  result.Set("durability", DurabilityName(durability_));
  result.Set("engine", engine_->name());
  result.Set("depth", static_cast<double>(engine_->depth()));
  result.Set("memoryAlignment", static_cast<double>(g.memory_alignment));
  result.Set("offsetAlignment", static_cast<double>(g.offset_alignment));
  result.Set("logicalSectorSize", static_cast<double>(g.logical_sector_size));
  result.Set("physicalSectorSize", static_cast<double>(g.physical_sector_size));
  result.Set("alignmentSource", g.source);
  result.Set("size", static_cast<double>(opened_.size));
  return result;
}

Napi::Value DirectFile::ResultOf(Napi::Env env, const io::Request& request) {
  switch (request.op) {
    case io::Op::kOpen:
      return InfoObject(env);
    case io::Op::kWrite:
    case io::Op::kRead:
    case io::Op::kSize:
      return Napi::Number::New(env, static_cast<double>(request.result));
    case io::Op::kSync:
    case io::Op::kPreallocate:
    case io::Op::kClose:
      return env.Undefined();
  }
  CLFS_ASSERT(false && "unknown op");
  return env.Undefined();
}

void DirectFile::OnComplete(Napi::Env env, std::unique_ptr<io::Request> request) {
  Napi::HandleScope scope(env);
  auto it = pending_.find(request->id);
  CLFS_ASSERT(it != pending_.end());
  Pending pending = std::move(it->second);
  pending_.erase(it);
  CLFS_ASSERT(pending.op == request->op);
  const bool failed = request->error.failed();

  if (request->op == io::Op::kRead && !failed)
    stats_.bytes_read += static_cast<double>(request->result);
  if (request->op == io::Op::kOpen) {
    if (!failed) opened_ = request->opened;
    // A close() that came during the open is already queued behind it.
    if (state_ == State::kOpening) state_ = failed ? State::kClosed : State::kOpen;
  }
  if (request->op == io::Op::kClose) state_ = State::kClosed;

  if (failed) {
    pending.deferred.Reject(MakeSystemError(env, request->error, path_).Value());
  } else {
    pending.deferred.Resolve(ResultOf(env, *request));
  }
  pending.keep.clear();  // the kernel is done with the memory

  if (state_ == State::kClosed && pending_.empty()) {
    StopEngine();  // the thread is idle: this join is immediate
    RemoveCleanupHook();
  }
  if (pending_.empty()) SetLoopReferenced(env, false);
}

}  // namespace binding
}  // namespace clfs
