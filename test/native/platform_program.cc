// The platform layer's own test (issue 12): drives native/platform's API
// directly, with no N-API, no Node and no test framework, so that the same
// checks run natively here (test/native/platform-program.test.ts builds it with
// the system c++), on Windows' API under wine (scripts/windows-platform.mjs,
// cross-built with MinGW) and compile for macOS (npm run check:macos). This
// file is its main; the harness is platform_program.h, the checks
// platform_io_checks.cc and platform_file_checks.cc.
//
//   platform_program <scratch directory>
//
// Prints "plan N", then one line per check: "ok NAME", "skip NAME: why" or
// "FAIL NAME: what (line)", then a summary line; exits 1 when a check failed.
// A check is skipped only where the platform in use is known not to honour
// it, found out at run time (wine: no alignment enforcement for
// FILE_FLAG_NO_BUFFERING, no FILE_STORAGE_INFO), never by guessing from the
// build.
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#if defined(_WIN32)
#include <windows.h>
#endif

#include "platform_program.h"

namespace clfs::platform_test {

std::string Describe(const p::SysError& error) {
  std::string text = std::string(p::ErrnoName(error.code)) + " from " +
                     (error.syscall != nullptr ? error.syscall : "?") + " (kind " +
                     std::to_string(static_cast<int>(error.kind)) + ")";
  if (!error.detail.empty()) text += ": " + error.detail;
  return text;
}

// Wine announces itself in ntdll; real Windows has no such export.
bool UnderWine() {
#if defined(_WIN32)
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  return ntdll != nullptr && GetProcAddress(ntdll, "wine_get_version") != nullptr;
#else
  return false;
#endif
}

}  // namespace clfs::platform_test

namespace t = clfs::platform_test;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: platform_program <scratch directory>\n");
    return 2;
  }
  t::Context context;
  context.dir = t::fs::path(argv[1]) / "platform-program";
  context.unique = t::fs::path(argv[1]).filename().string();
  context.wine = t::UnderWine();
  std::error_code error;
  t::fs::remove_all(context.dir, error);
  t::fs::create_directories(context.dir, error);
  if (error) {
    std::fprintf(stderr, "cannot create %s: %s\n", context.dir.string().c_str(),
                 error.message().c_str());
    return 2;
  }
  const std::pair<const t::Check*, size_t> groups[] = {{t::kIoChecks, t::kIoCheckCount},
                                                       {t::kFileChecks, t::kFileCheckCount}};
  size_t count = 0;
  for (const auto& group : groups) count += group.second;
  std::printf("plan %zu%s\n", count, context.wine ? " (under wine)" : "");
  std::fflush(stdout);
  size_t failed = 0;
  size_t skipped = 0;
  for (const auto& group : groups) {
    for (size_t i = 0; i < group.second; i++) {
      const t::Check& check = group.first[i];
      t::Outcome outcome;
      check.run(context, &outcome);
      if (outcome.failed) {
        failed++;
        std::printf("FAIL %s: %s\n", check.name, outcome.text.c_str());
      } else if (outcome.skipped) {
        skipped++;
        std::printf("skip %s: %s\n", check.name, outcome.text.c_str());
      } else {
        std::printf("ok %s\n", check.name);
      }
      std::fflush(stdout);
    }
  }
  t::fs::remove_all(context.dir, error);
  std::printf("%zu checks: %zu passed, %zu skipped, %zu failed\n", count, count - failed - skipped,
              skipped, failed);
  return failed == 0 ? 0 : 1;
}
