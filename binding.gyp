{
  "targets": [
    {
      "target_name": "clfs",
      "sources": [
        "native/binding/addon.cc",
        "native/binding/aligned_memory.cc",
        "native/binding/direct_file.cc",
        "native/binding/errors.cc",
        "native/binding/regular_file.cc",
        "native/crc32c/crc32c.cc",
        "native/crc32c/crc32c_hw.cc",
        "native/io/engine.cc",
        "native/io/thread_engine.cc",
        "native/io/uring_engine.cc",
        "native/platform/common.cc",
        "native/platform/posix.cc",
        "native/platform/regular_file_posix.cc",
        "native/platform/regular_file_win32.cc",
        "native/platform/win32.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17"] }
      },
      "conditions": [
        ["OS=='linux'", { "libraries": ["-pthread"] }],
        ["OS=='win'", { "defines": ["_HAS_EXCEPTIONS=1"] }]
      ]
    }
  ]
}
