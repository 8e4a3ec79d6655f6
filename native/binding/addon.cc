// The addon's entry point: one AddonData per environment (main thread and each
// worker), holding everything that would otherwise be a global.
#include "addon.h"

#include "../crc32c/crc32c.h"
#include "../platform/platform.h"
#include "aligned_memory.h"
#include "direct_file.h"
#include "errors.h"
#include "regular_file.h"
#include "util.h"

namespace clfs {
namespace binding {

AddonData::AddonData(Napi::Env env, Napi::Object exports) {
  DefineAddon(exports, {
                           InstanceMethod<&AddonData::SetErrorClass>("init"),
                           InstanceMethod<&AddonData::Crc32c>("crc32c"),
                           InstanceMethod<&AddonData::Crc32cPortable>("crc32cPortable"),
                           InstanceMethod<&AddonData::Crc32cImplementation>("crc32cImplementation"),
                       });
  RegisterAlignedMemory(env, exports);
  RegisterRegularFile(env, exports);
  Napi::Function direct_file = DirectFile::DefineClass(env);
  direct_file_class = Napi::Persistent(direct_file);
  exports.Set("DirectFile", direct_file);
  exports.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
}

// init({ ClfsError }): the error class every error from here is made with.
Napi::Value AddonData::SetErrorClass(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object options = ArgObject(info, 0, "options");
  Napi::Value error_class_value = options.Get("ClfsError");
  if (!error_class_value.IsFunction()) {
    Throw(env, "ERR_INVALID_ARG_TYPE", "init() needs the ClfsError class");
  }
  error_class = Napi::Persistent(error_class_value.As<Napi::Function>());
  return env.Undefined();
}

namespace {

Napi::Value Crc(const Napi::CallbackInfo& info, bool portable) {
  Napi::Env env = info.Env();
  Napi::TypedArray data = ArgTypedArray(info, 0, "data");
  uint32_t seed = 0;
  if (!info[1].IsUndefined()) seed = static_cast<uint32_t>(ArgIndex(info, 1, "crc", 0xFFFFFFFFu));
  const uint8_t* bytes = TypedArrayData(data);
  const size_t length = data.ByteLength();
  const uint32_t crc =
      portable ? crc32c::ExtendPortable(seed, bytes, length) : crc32c::Extend(seed, bytes, length);
  return Napi::Number::New(env, crc);
}

}  // namespace

// crc32c(data, crc = 0) -> the CRC32C of data, continuing from crc
Napi::Value AddonData::Crc32c(const Napi::CallbackInfo& info) { return Crc(info, false); }
Napi::Value AddonData::Crc32cPortable(const Napi::CallbackInfo& info) { return Crc(info, true); }
Napi::Value AddonData::Crc32cImplementation(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), crc32c::Implementation());
}

}  // namespace binding
}  // namespace clfs

using ClfsAddon = clfs::binding::AddonData;
NODE_API_ADDON(ClfsAddon)
