// Per-environment state of the addon (no globals: every worker thread that
// loads clfs gets its own AddonData).
#pragma once

#include <napi.h>

#include <cstdint>
#include <unordered_map>

namespace clfs {
namespace binding {

// Memory pinned for one nonPaged buffer.
struct Pin {
  uint8_t* address;
  size_t length;
  Napi::ObjectReference keep;  // the memory (a SharedArrayBuffer) must outlive the pin
};

class AddonData : public Napi::Addon<AddonData> {
 public:
  AddonData(Napi::Env env, Napi::Object exports);

  // The ClfsError class, handed over once by lib/native/binding.ts.
  Napi::FunctionReference error_class;
  Napi::FunctionReference direct_file_class;

  // nonPaged buffers pinned by this environment, by id.
  std::unordered_map<uint64_t, Pin> pins;
  std::unordered_map<uintptr_t, uint64_t> pin_ids_by_address;
  uint64_t next_pin_id = 1;
  uint64_t pinned_bytes = 0;

 private:
  Napi::Value SetErrorClass(const Napi::CallbackInfo& info);
  Napi::Value Crc32c(const Napi::CallbackInfo& info);
  Napi::Value Crc32cPortable(const Napi::CallbackInfo& info);
  Napi::Value Crc32cImplementation(const Napi::CallbackInfo& info);
};

}  // namespace binding
}  // namespace clfs
