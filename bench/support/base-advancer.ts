/**
 * Keeps a benchmark log from filling up, as a real application's checkpoint
 * would: when appends move into a new container, the base moves to the first
 * record of the container before, so the one before that becomes free for
 * recycling. It runs in the background (one advanceLogBase at a time; a
 * newer target replaces one not started yet) and never blocks an append.
 * @module
 */
import type { Lsn, MarshallingArea } from '../../lib/index.ts';

export class BaseAdvancer {
  readonly #area: MarshallingArea;
  #container = -1n;
  #firstOfCurrent: Lsn | undefined;
  #target: Lsn | undefined;
  #running: Promise<void> | undefined;
  #failure: unknown;
  /** advanceLogBase calls made. */
  advances = 0;

  constructor(area: MarshallingArea) {
    this.#area = area;
  }

  /** Call with every LSN appended (or the last of a batch), in order. */
  note(lsn: Lsn | undefined): void {
    if (lsn === undefined) return;
    const container = lsn >> 32n;
    if (container === this.#container) return;
    const previous = this.#firstOfCurrent;
    this.#container = container;
    this.#firstOfCurrent = lsn;
    if (previous !== undefined) {
      this.#target = previous;
      this.#kick();
    }
  }

  #kick(): void {
    if (this.#running !== undefined || this.#target === undefined) return;
    const target = this.#target;
    this.#target = undefined;
    this.advances++;
    this.#running = this.#area.advanceLogBase(target).then(
      () => {
        this.#running = undefined;
        this.#kick();
      },
      (error: unknown) => {
        this.#failure ??= error;
        this.#running = undefined;
      },
    );
  }

  /** Waits for the advance in progress (and any queued); rethrows the first failure. */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
    if (this.#failure !== undefined) throw this.#failure;
  }
}
