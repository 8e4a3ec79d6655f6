#include "errors.h"

#include "addon.h"

namespace clfs {
namespace binding {

Napi::Error MakeClfsError(Napi::Env env, const char* code, const std::string& message,
                          Napi::Object details) {
  AddonData* data = env.GetInstanceData<AddonData>();
  Napi::Object error;
  if (data != nullptr && !data->error_class.IsEmpty()) {
    Napi::Value args[] = {Napi::String::New(env, code), Napi::String::New(env, message),
                          details.IsEmpty() ? env.Undefined() : Napi::Value(details)};
    error = data->error_class.New({args[0], args[1], args[2]});
  } else {
    error = Napi::Error::New(env, message).Value();
    error.Set("code", Napi::String::New(env, code));
    if (!details.IsEmpty()) {
      Napi::Array keys = details.GetPropertyNames();
      for (uint32_t i = 0; i < keys.Length(); i++) {
        Napi::Value key = keys.Get(i);
        error.Set(key, details.Get(key));
      }
    }
  }
  return Napi::Error(env, error);
}

Napi::Error MakeSystemError(Napi::Env env, const platform::SysError& error,
                            const std::string& path) {
  Napi::Object details = Napi::Object::New(env);
  if (error.code != 0) details.Set("errno", Napi::Number::New(env, -error.code));
  if (error.syscall != nullptr) details.Set("syscall", Napi::String::New(env, error.syscall));
  if (!path.empty()) details.Set("path", Napi::String::New(env, path));
  const std::string where = std::string(error.syscall != nullptr ? error.syscall : "") +
                            (path.empty() ? "" : " '" + path + "'");
  switch (error.kind) {
    case platform::ErrorKind::kLocked:
      details.Set("systemCode", Napi::String::New(env, platform::ErrnoName(error.code)));
      return MakeClfsError(
          env, "ERR_CLFS_LOCKED",
          "'" + path + "' is locked by another open handle (this process or another)", details);
    case platform::ErrorKind::kDirectUnsupported:
      details.Set("reason", Napi::String::New(env, error.detail));
      return MakeClfsError(env, "ERR_CLFS_DIRECT_IO_UNSUPPORTED",
                           "direct I/O is not available for '" + path + "': " + error.detail +
                               " (pass allowBuffered: true to open it buffered)",
                           details);
    case platform::ErrorKind::kUnsafeFile:
      details.Set("reason", Napi::String::New(env, error.detail));
      if (error.code != 0) {
        details.Set("systemCode", Napi::String::New(env, platform::ErrnoName(error.code)));
      }
      return MakeClfsError(env, "ERR_CLFS_UNSAFE_FILE",
                           "'" + path +
                               "' is not a plain regular file of its directory (one link, on "
                               "the directory's device): it is " +
                               error.detail + "; refused without following or using it",
                           details);
    case platform::ErrorKind::kSystem:
      break;
  }
  const char* name = platform::ErrnoName(error.code);
  std::string message =
      std::string(name) + ": " + platform::ErrnoMessage(error.code) + ", " + where;
  if (!error.detail.empty()) message += " (" + error.detail + ")";
  return MakeClfsError(env, name, message, details);
}

void Throw(Napi::Env env, const char* code, const std::string& message) {
  throw MakeClfsError(env, code, message);
}

}  // namespace binding
}  // namespace clfs
