// Assertions for states that cannot happen. They stay on in release builds: a
// storage library that continues past an impossible state can damage a log,
// so it stops the process instead, saying where.
#pragma once

#include <cstdio>
#include <cstdlib>

#define CLFS_ASSERT(condition)                                                           \
  do {                                                                                   \
    if (!(condition)) {                                                                  \
      std::fprintf(stderr, "clfs: assertion failed: %s (%s:%d)\n", #condition, __FILE__, \
                   __LINE__);                                                            \
      std::fflush(stderr);                                                               \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
