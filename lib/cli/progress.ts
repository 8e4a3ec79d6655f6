/**
 * A progress bar on stderr, drawn only when stderr is a terminal (never
 * into a pipe or a file), at most ten times a second.
 * @module
 */
import { bytesText } from './common.ts';

const WIDTH = 30;

export class ProgressBar {
  readonly #label: string;
  readonly #tty = process.stderr.isTTY === true;
  #drawn = 0;

  constructor(label: string) {
    this.#label = label;
  }

  /** `done` of `total` bytes. */
  update(done: number, total: number): void {
    const now = Date.now();
    if (!this.#tty || now - this.#drawn < 100) return;
    this.#drawn = now;
    const part = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(part * WIDTH);
    const bar = `${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}`;
    process.stderr.write(`\r${this.#label} [${bar}] ${(part * 100).toFixed(0).padStart(3)}% ${bytesText(done)}\x1b[K`);
  }

  /** Removes the bar. */
  clear(): void {
    if (this.#tty && this.#drawn > 0) process.stderr.write('\r\x1b[K');
    this.#drawn = 0;
  }
}
