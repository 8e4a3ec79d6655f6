// Platform facts with no vitest in them (test/support/platform.ts re-exports
// them): the bad-input table's child process imports this file too. The
// system error codes that Linux and Windows give differently for one fault.
export const LINUX = process.platform === 'linux';
export const WINDOWS = process.platform === 'win32';
/** Set by `npm run test:windows` (scripts/test-windows.mjs) for the suite it runs under wine. */
export const UNDER_WINE = process.env.CLFS_UNDER_WINE === '1';

/** The code (or codes) a system error has here, for faults Linux and Windows name differently. */
export const SYSTEM_ERRORS = WINDOWS
  ? {
      /** The call that opens a file, in an error's `syscall`. */
      openCall: 'CreateFileW',
      /** A 300-byte file name (ERROR_FILENAME_EXCED_RANGE, or ERROR_PATH_NOT_FOUND as wine says). */
      nameTooLong: ['ENAMETOOLONG', 'ENOENT'],
      /** A path under a regular file (ERROR_PATH_NOT_FOUND). */
      underAFile: 'ENOENT',
      /** Opening a directory as a file (ERROR_ACCESS_DENIED, which win32.cc names EISDIR for a directory, as POSIX does). */
      aDirectory: 'EISDIR',
      /** A write to a file opened read-only (ERROR_ACCESS_DENIED, which win32.cc names EBADF, as POSIX does). */
      writeReadOnly: { code: 'EBADF', errno: -9 },
    }
  : {
      openCall: 'open',
      nameTooLong: ['ENAMETOOLONG'],
      underAFile: 'ENOTDIR',
      aDirectory: 'EISDIR',
      writeReadOnly: { code: 'EBADF', errno: -9 },
    };
