/**
 * Progress on a TTY: one line on stderr, rewritten in place. Nothing at all
 * when stderr is not a TTY.
 * @module
 */
export class Progress {
  readonly #tty = process.stderr.isTTY === true;
  #shown = false;

  /** Replaces the line with `text` (cut to the terminal's width). */
  update(text: string): void {
    if (!this.#tty) return;
    const width = Math.max(20, (process.stderr.columns ?? 100) - 1);
    process.stderr.write(`\r\x1b[K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
    this.#shown = true;
  }

  /** Clears the line (before printing anything else). */
  clear(): void {
    if (!this.#tty || !this.#shown) return;
    process.stderr.write('\r\x1b[K');
    this.#shown = false;
  }
}
