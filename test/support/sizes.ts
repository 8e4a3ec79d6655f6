// Sizes, in one place for every test file (fixtures.ts re-exports them; the
// simulator, built on its own without vitest, imports this file directly).
export const KiB = 1024;
export const MiB = 1024 * KiB;
/** The 512-byte sector: the unit of the images and of O_DIRECT alignment. */
export const SECTOR = 512;
