/**
 * Argument checks shared by the public API. Each throws a {@link ClfsError}
 * with Node's argument codes, naming the argument and what it received.
 * @module
 */
import { ClfsError, invalidArgType, invalidArgValue, outOfRange } from './errors.ts';

/** An integer in [min, max] (max may be Infinity only if `allowInfinity`). */
export function checkInteger(name: string, value: unknown, min: number, max: number = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw outOfRange(name, `an integer >= ${min} and <= ${max}`, value);
  }
  return value;
}

/** A positive integer or Infinity. */
export function checkCountOrInfinity(name: string, value: unknown): number {
  if (value === Infinity) return Infinity;
  return checkInteger(name, value, 1);
}

/** A power of two in [min, max]. */
export function checkPowerOfTwo(name: string, value: unknown, min: number, max: number): number {
  checkInteger(name, value, min, max);
  const n = value as number;
  if ((n & (n - 1)) !== 0) throw invalidArgValue(name, n, 'must be a power of two');
  return n;
}

export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value);
  return value;
}

export function checkString(name: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  return value;
}

/** A non-empty path without NUL bytes. */
export function checkPath(name: string, value: unknown): string {
  checkString(name, value);
  const path = value as string;
  if (path.length === 0 || path.includes('\0')) {
    throw invalidArgValue(name, path, 'must be a non-empty path without NUL bytes');
  }
  return path;
}

export function checkOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  if (!(allowed as readonly string[]).includes(value)) {
    throw invalidArgValue(name, value, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
  }
  return value as T;
}

export function checkUint8Array(name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalidArgType(name, 'an instance of Uint8Array', value);
  return value;
}

/** `undefined` becomes `{}`; anything else must be a plain object. */
export function checkOptions<T extends object>(
  name: string,
  value: T | undefined,
  known?: readonly (keyof T & string)[],
): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArgType(name, 'of type object', value);
  }
  // A misspelt option (`containerSise`) is refused, never silently ignored.
  if (known !== undefined) {
    for (const key in value) {
      if (!(known as readonly string[]).includes(key)) {
        throw new ClfsError(
          'ERR_INVALID_ARG_VALUE',
          `The argument '${name}' has no option '${key}' (its options are ${known.join(', ')})`,
        );
      }
    }
  }
  return value;
}
