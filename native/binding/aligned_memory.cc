#include "aligned_memory.h"

#include <algorithm>
#include <string>

#include "../platform/platform.h"
#include "../util/assert.h"
#include "addon.h"
#include "errors.h"
#include "util.h"

namespace clfs {
namespace binding {

namespace {

std::string Bytes(uint64_t bytes) {
  if (bytes == UINT64_MAX) return "unlimited";
  if (bytes % (1024 * 1024) == 0) return std::to_string(bytes / (1024 * 1024)) + " MiB";
  if (bytes % 1024 == 0) return std::to_string(bytes / 1024) + " KiB";
  return std::to_string(bytes) + " bytes";
}

void Unpin(AddonData* data, uint64_t id) {
  auto it = data->pins.find(id);
  if (it == data->pins.end()) return;  // released already
  Pin& pin = it->second;
  // Errors are ignored: the pages are ours and mapped (we hold the memory), so
  // munlock cannot fail for a reason we could act on.
  platform::UnlockMemory(pin.address, pin.length);
  platform::IncludeInFork(pin.address, pin.length);
  CLFS_ASSERT(data->pinned_bytes >= pin.length);
  data->pinned_bytes -= pin.length;
  data->pin_ids_by_address.erase(reinterpret_cast<uintptr_t>(pin.address));
  data->pins.erase(it);  // drops the reference that kept the memory alive
}

// Checks the pin quota: RLIMIT_MEMLOCK against what the process has locked
// (the kernel's count where it gives one). Root with CAP_IPC_LOCK is not held
// to the limit by the kernel; clfs holds everyone to it, so a program that
// works as root works as a user.
void CheckPinQuota(Napi::Env env, AddonData* data, uint64_t length) {
  const uint64_t limit = platform::MemoryLockLimit();
  if (limit == UINT64_MAX) return;
  uint64_t locked = 0;
  if (!platform::ProcessLockedBytes(&locked)) locked = data->pinned_bytes;
  if (locked + length <= limit) return;
  Napi::Object details = Napi::Object::New(env);
  details.Set("limit", Napi::Number::New(env, static_cast<double>(limit)));
  details.Set("pinned", Napi::Number::New(env, static_cast<double>(locked)));
  details.Set("requested", Napi::Number::New(env, static_cast<double>(length)));
  throw MakeClfsError(env, "ERR_CLFS_PIN_LIMIT",
                      "cannot pin " + Bytes(length) + ": RLIMIT_MEMLOCK is " + Bytes(limit) +
                          " and " + Bytes(locked) +
                          " are locked by this process already. Raise the limit (ulimit -l, "
                          "LimitMEMLOCK= in a systemd unit, memlock in "
                          "/etc/security/limits.conf), release pinned buffers, or use pool "
                          "'paged'",
                      details);
}

// pin(view, length): locks [view's first byte, + length) in RAM and keeps it
// out of forked children. The caller (lib/native/memory.ts) made the view on a
// SharedArrayBuffer it over-allocated: page-aligned, `length` a whole number of
// pages, all inside the view's memory, so the pages are the buffer's alone
// and unpinning it can never unpin a neighbour.
Napi::Value PinView(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonData* data = env.GetInstanceData<AddonData>();
  Napi::Uint8Array view = ArgUint8Array(info, 0, "view");
  const uint64_t length = ArgIndex(info, 1, "length", kMaxBufferSize);
  const uint64_t page = platform::PageSize();
  uint8_t* address = view.Data();
  if (length == 0 || length % page != 0 || reinterpret_cast<uintptr_t>(address) % page != 0) {
    Throw(env, "ERR_INVALID_ARG_VALUE",
          "pin() needs a page-aligned view and a whole number of pages");
  }
  // The pinned pages must lie inside the memory the view keeps alive.
  Napi::Value memory_value = view.Get("buffer");
  if (!memory_value.IsObject()) Throw(env, "ERR_INVALID_ARG_VALUE", "the view has no buffer");
  const double byte_offset = view.ByteOffset();
  const double memory_length =
      memory_value.As<Napi::Object>().Get("byteLength").ToNumber().DoubleValue();
  if (byte_offset + static_cast<double>(length) > memory_length) {
    Throw(env, "ERR_INVALID_ARG_VALUE", "the pinned range runs past the view's memory");
  }
  if (data->pin_ids_by_address.count(reinterpret_cast<uintptr_t>(address)) != 0) {
    Throw(env, "ERR_INVALID_ARG_VALUE", "this memory is pinned already");
  }
  CheckPinQuota(env, data, length);

  platform::SysError error = platform::LockMemory(address, static_cast<size_t>(length));
  if (error.failed()) {
    // POSIX names mlock and RLIMIT_MEMLOCK; Windows VirtualLock, with no fixed
    // limit (MemoryLockLimit() is UINT64_MAX: the working set was raised).
    const uint64_t limit = platform::MemoryLockLimit();
    const std::string syscall = error.syscall != nullptr ? error.syscall : "mlock";
    Napi::Object details = Napi::Object::New(env);
    details.Set("errno", Napi::Number::New(env, -error.code));
    details.Set("syscall", Napi::String::New(env, syscall));
    std::string advice = "the system refused it: free memory or use pool 'paged'";
    if (limit != UINT64_MAX) {
      details.Set("limit", Napi::Number::New(env, static_cast<double>(limit)));
      advice = "RLIMIT_MEMLOCK is " + Bytes(limit) + ". Raise it (ulimit -l) or use pool 'paged'";
    }
    throw MakeClfsError(env, "ERR_CLFS_PIN_LIMIT",
                        std::string("cannot pin ") + Bytes(length) + ": " + syscall +
                            " failed with " + platform::ErrnoName(error.code) + " (" +
                            platform::ErrnoMessage(error.code) + "); " + advice,
                        details);
  }
  error = platform::ExcludeFromFork(address, static_cast<size_t>(length));
  if (error.failed()) {
    platform::UnlockMemory(address, static_cast<size_t>(length));
    throw MakeSystemError(env, error, "");
  }

  const uint64_t id = data->next_pin_id++;
  data->pins.emplace(id, Pin{address, static_cast<size_t>(length),
                             Napi::Persistent(memory_value.As<Napi::Object>())});
  data->pin_ids_by_address[reinterpret_cast<uintptr_t>(address)] = id;
  data->pinned_bytes += length;
  // The safety net: when the view is collected, unpin. The memory itself stays
  // alive through the pin's reference until then, so the finalizer never
  // unlocks pages that something else has been given.
  view.AddFinalizer(
      [](Napi::Env finalizer_env, uint64_t* pin_id) {
        AddonData* addon = finalizer_env.GetInstanceData<AddonData>();
        if (addon != nullptr) Unpin(addon, *pin_id);
        delete pin_id;
      },
      new uint64_t(id));
  return env.Undefined();
}

// releaseBuffer(view) -> whether it was pinned by this environment
Napi::Value ReleaseBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonData* data = env.GetInstanceData<AddonData>();
  Napi::Uint8Array view = ArgUint8Array(info, 0, "buffer");
  auto it = data->pin_ids_by_address.find(reinterpret_cast<uintptr_t>(view.Data()));
  if (it == data->pin_ids_by_address.end()) return Napi::Boolean::New(env, false);
  Unpin(data, it->second);
  return Napi::Boolean::New(env, true);
}

Napi::Value MemoryInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonData* data = env.GetInstanceData<AddonData>();
  Napi::Object result = Napi::Object::New(env);
  result.Set("pinnedBytes", Napi::Number::New(env, static_cast<double>(data->pinned_bytes)));
  result.Set("pinnedBuffers", Napi::Number::New(env, static_cast<double>(data->pins.size())));
  uint64_t locked = 0;
  result.Set("processLockedBytes", platform::ProcessLockedBytes(&locked)
                                       ? Napi::Number::New(env, static_cast<double>(locked))
                                       : env.Null());
  const uint64_t limit = platform::MemoryLockLimit();
  result.Set("pinLimit",
             Napi::Number::New(env, limit == UINT64_MAX ? std::numeric_limits<double>::infinity()
                                                        : static_cast<double>(limit)));
  result.Set("pageSize", Napi::Number::New(env, static_cast<double>(platform::PageSize())));
  return result;
}

// misalignment(view, alignment) -> address % alignment
Napi::Value MisalignmentFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::TypedArray view = ArgTypedArray(info, 0, "buffer");
  const uint64_t alignment = ArgIndex(info, 1, "alignment", kMaxAlignment);
  if (!IsPowerOfTwo(alignment))
    Throw(env, "ERR_INVALID_ARG_VALUE", "alignment must be a power of two");
  return Napi::Number::New(env, static_cast<double>(Misalignment(view, alignment)));
}

}  // namespace

uint8_t* TypedArrayData(const Napi::TypedArray& array) {
  // napi_get_typedarray_info gives the first byte's address for views on
  // ArrayBuffers and SharedArrayBuffers alike (Napi::ArrayBuffer::Data() does
  // not work on a SharedArrayBuffer).
  void* data = nullptr;
  napi_status status =
      napi_get_typedarray_info(array.Env(), array, nullptr, nullptr, &data, nullptr, nullptr);
  CLFS_ASSERT(status == napi_ok);
  return static_cast<uint8_t*>(data);
}

uint64_t Misalignment(const Napi::TypedArray& array, uint64_t alignment) {
  return reinterpret_cast<uintptr_t>(TypedArrayData(array)) & (alignment - 1);
}

// address(view) -> the address of the view's first byte, as a number (for
// telling whether two buffers overlap; addresses are below 2^53 in practice,
// checked).
Napi::Value Address(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::TypedArray view = ArgTypedArray(info, 0, "buffer");
  const uintptr_t address = reinterpret_cast<uintptr_t>(TypedArrayData(view));
  CLFS_ASSERT(static_cast<uint64_t>(address) <= kMaxSafeInteger);
  return Napi::Number::New(env, static_cast<double>(address));
}

void RegisterAlignedMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("address", Napi::Function::New(env, Address, "address"));
  exports.Set("pin", Napi::Function::New(env, PinView, "pin"));
  exports.Set("releaseBuffer", Napi::Function::New(env, ReleaseBuffer, "releaseBuffer"));
  exports.Set("memoryInfo", Napi::Function::New(env, MemoryInfo, "memoryInfo"));
  exports.Set("misalignment", Napi::Function::New(env, MisalignmentFn, "misalignment"));
}

}  // namespace binding
}  // namespace clfs
