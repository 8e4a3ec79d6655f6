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

uint64_t RoundUp(uint64_t value, uint64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

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

// alignedBuffer(size, alignment, pinned) -> Uint8Array
Napi::Value AlignedBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonData* data = env.GetInstanceData<AddonData>();
  const uint64_t size = ArgIndex(info, 0, "size", kMaxBufferSize);
  const uint64_t alignment = ArgIndex(info, 1, "alignment", kMaxAlignment);
  const bool pinned = info[2].ToBoolean().Value();
  if (size == 0) Throw(env, "ERR_OUT_OF_RANGE", "size must be at least 1");
  if (!IsPowerOfTwo(alignment)) {
    Throw(env, "ERR_INVALID_ARG_VALUE",
          "alignment must be a power of two, got " + std::to_string(alignment));
  }

  const uint64_t page = platform::PageSize();
  // Pinned memory is locked by whole pages; the pages must belong to this
  // buffer alone, or unpinning it would unpin a neighbour.
  const uint64_t start_alignment = pinned ? std::max(alignment, page) : alignment;
  const uint64_t usable = pinned ? RoundUp(size, page) : size;
  if (pinned) CheckPinQuota(env, data, usable);

  Napi::ArrayBuffer memory;
  try {
    memory = Napi::ArrayBuffer::New(env, static_cast<size_t>(usable + start_alignment - 1));
  } catch (const Napi::Error&) {
    Throw(env, "ENOMEM", "cannot allocate a " + std::to_string(size) + "-byte aligned buffer");
  }
  uint8_t* base = static_cast<uint8_t*>(memory.Data());
  const uint64_t offset =
      (start_alignment - reinterpret_cast<uintptr_t>(base) % start_alignment) % start_alignment;
  uint8_t* aligned = base + offset;
  CLFS_ASSERT(offset + usable <= memory.ByteLength());
  Napi::Uint8Array view =
      Napi::Uint8Array::New(env, static_cast<size_t>(size), memory, static_cast<size_t>(offset));

  if (!pinned) return view;

  platform::SysError error = platform::LockMemory(aligned, static_cast<size_t>(usable));
  if (error.failed()) {
    Napi::Object details = Napi::Object::New(env);
    details.Set("errno", Napi::Number::New(env, -error.code));
    details.Set("syscall", Napi::String::New(env, "mlock"));
    details.Set("limit", Napi::Number::New(env, static_cast<double>(platform::MemoryLockLimit())));
    throw MakeClfsError(env, "ERR_CLFS_PIN_LIMIT",
                        std::string("cannot pin ") + Bytes(usable) + ": mlock failed with " +
                            platform::ErrnoName(error.code) + " (" +
                            platform::ErrnoMessage(error.code) + "); RLIMIT_MEMLOCK is " +
                            Bytes(platform::MemoryLockLimit()) +
                            ". Raise it (ulimit -l) or use pool 'paged'",
                        details);
  }
  error = platform::ExcludeFromFork(aligned, static_cast<size_t>(usable));
  if (error.failed()) {
    platform::UnlockMemory(aligned, static_cast<size_t>(usable));
    throw MakeSystemError(env, error, "");
  }

  const uint64_t id = data->next_pin_id++;
  data->pins.emplace(id, Pin{aligned, static_cast<size_t>(usable),
                             Napi::Reference<Napi::ArrayBuffer>::New(memory, 1)});
  data->pin_ids_by_address[reinterpret_cast<uintptr_t>(aligned)] = id;
  data->pinned_bytes += usable;
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
  return view;
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

uint64_t Misalignment(const Napi::TypedArray& array, uint64_t alignment) {
  const uint8_t* start =
      static_cast<const uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  return reinterpret_cast<uintptr_t>(start) & (alignment - 1);
}

void RegisterAlignedMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("alignedBuffer", Napi::Function::New(env, AlignedBuffer, "alignedBuffer"));
  exports.Set("releaseBuffer", Napi::Function::New(env, ReleaseBuffer, "releaseBuffer"));
  exports.Set("memoryInfo", Napi::Function::New(env, MemoryInfo, "memoryInfo"));
  exports.Set("misalignment", Napi::Function::New(env, MisalignmentFn, "misalignment"));
}

}  // namespace binding
}  // namespace clfs
