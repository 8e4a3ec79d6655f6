/**
 * Recording the durable tail once the writer is idle, for read-only
 * readers (follower.ts): a reader serves a block once the metadata's tail
 * or a later block vouches for it, so without this the records of a
 * writer's last flush would wait for its next write or metadata update.
 * When durable records went unrecorded and `delayMs` pass with no further
 * durable progress, the writer writes its metadata (one base-file write)
 * with the tail as it is. A busy writer never does (each new block vouches
 * for the ones before it); an idle one does once per idle spell.
 *
 * It counts progress instead of reading a clock, so it runs the same under
 * the simulator's virtual timers.
 * @module
 */

export class TailPublisher {
  readonly #delayMs: number;
  readonly #publish: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Durable progress since the timer was armed. */
  #advanced = false;
  #stopped = false;

  /** `delayMs` 0: never. `publish` records the tail (it checks whether there is anything to record). */
  constructor(delayMs: number, publish: () => void) {
    this.#delayMs = delayMs;
    this.#publish = publish;
  }

  /** The writer made more records durable. */
  advanced(): void {
    if (this.#delayMs === 0 || this.#stopped) return;
    if (this.#timer === undefined) this.#arm();
    else this.#advanced = true;
  }

  #arm(): void {
    this.#advanced = false;
    this.#timer = setTimeout(() => this.#fire(), this.#delayMs);
    this.#timer.unref?.();
  }

  #fire(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    if (this.#advanced) return this.#arm();
    this.#publish();
  }

  /** The log is closing (it records its tail itself). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
