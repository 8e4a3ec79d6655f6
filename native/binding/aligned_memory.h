// Aligned buffers live in V8 SharedArrayBuffers, over-allocated by the
// alignment (lib/native/memory.ts), with the aligned start found from the
// address here. Never external buffers (Electron and the V8 sandbox refuse
// them), and never plain ArrayBuffers: those can be detached (transferred)
// while the kernel uses their memory; a SharedArrayBuffer cannot. nonPaged
// buffers are pinned (locked in RAM and kept out of forked children) for as
// long as their Uint8Array lives or until released.
#pragma once

#include <napi.h>

namespace clfs {
namespace binding {

void RegisterAlignedMemory(Napi::Env env, Napi::Object exports);

// The address of a typed array's first byte (on an ArrayBuffer or a SharedArrayBuffer).
uint8_t* TypedArrayData(const Napi::TypedArray& array);

// The address of a typed array's first byte, modulo `alignment` (a power of two).
uint64_t Misalignment(const Napi::TypedArray& array, uint64_t alignment);

}  // namespace binding
}  // namespace clfs
