// Aligned buffers in V8 ArrayBuffers: over-allocated by the alignment, with
// the aligned start found here. Never external buffers: Electron and the V8
// sandbox refuse them. nonPaged buffers are pinned (locked in RAM and kept out
// of forked children) for as long as their Uint8Array lives or until released.
#pragma once

#include <napi.h>

namespace clfs {
namespace binding {

void RegisterAlignedMemory(Napi::Env env, Napi::Object exports);

// The address of a typed array's first byte, modulo `alignment` (a power of two).
uint64_t Misalignment(const Napi::TypedArray& array, uint64_t alignment);

}  // namespace binding
}  // namespace clfs
