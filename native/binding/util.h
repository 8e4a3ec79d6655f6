// Argument checks for binding functions. The TypeScript layer validates the
// public API first; these keep the binding itself from ever trusting a value
// (a wrong call must throw, never crash).
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "errors.h"

namespace clfs {
namespace binding {

constexpr uint64_t kMaxSafeInteger = (uint64_t{1} << 53) - 1;
constexpr uint64_t kMaxBufferSize = uint64_t{1} << 32;  // Node's buffer.constants.MAX_LENGTH
constexpr uint64_t kMaxAlignment = uint64_t{1} << 30;

inline bool IsPowerOfTwo(uint64_t value) { return value != 0 && (value & (value - 1)) == 0; }

// A non-negative integer no greater than `max`.
inline uint64_t ArgIndex(const Napi::CallbackInfo& info, size_t index, const char* name,
                         uint64_t max = kMaxSafeInteger) {
  Napi::Env env = info.Env();
  Napi::Value value = info[index];
  if (!value.IsNumber()) {
    Throw(env, "ERR_INVALID_ARG_TYPE",
          std::string("The \"") + name + "\" argument must be a number");
  }
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(number) || number < 0 || std::floor(number) != number ||
      number > static_cast<double>(max)) {
    Throw(env, "ERR_OUT_OF_RANGE",
          std::string("The value of \"") + name +
              "\" is out of range. It must be an integer >= 0 and <= " + std::to_string(max) +
              ". Received " + value.ToString().Utf8Value());
  }
  return static_cast<uint64_t>(number);
}

inline Napi::TypedArray ArgTypedArray(const Napi::CallbackInfo& info, size_t index,
                                      const char* name) {
  Napi::Value value = info[index];
  if (!value.IsTypedArray()) {
    Throw(info.Env(), "ERR_INVALID_ARG_TYPE",
          std::string("The \"") + name + "\" argument must be a Uint8Array");
  }
  return value.As<Napi::TypedArray>();
}

inline Napi::Uint8Array ArgUint8Array(const Napi::CallbackInfo& info, size_t index,
                                      const char* name) {
  Napi::TypedArray array = ArgTypedArray(info, index, name);
  if (array.TypedArrayType() != napi_uint8_array) {
    Throw(info.Env(), "ERR_INVALID_ARG_TYPE",
          std::string("The \"") + name + "\" argument must be a Uint8Array");
  }
  return array.As<Napi::Uint8Array>();
}

inline Napi::Object ArgObject(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value value = info[index];
  if (value.IsUndefined()) return Napi::Object::New(info.Env());
  if (!value.IsObject()) {
    Throw(info.Env(), "ERR_INVALID_ARG_TYPE",
          std::string("The \"") + name + "\" argument must be an object");
  }
  return value.As<Napi::Object>();
}

}  // namespace binding
}  // namespace clfs
