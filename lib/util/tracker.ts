/**
 * Calls still running that someone must wait for (a close waits for the
 * calls made before it).
 * @module
 */
export class Tracker {
  readonly #running = new Set<Promise<unknown>>();

  /** Registers `promise` until it settles; returns it. */
  track<T>(promise: Promise<T>): Promise<T> {
    this.#running.add(promise);
    const forget = (): void => void this.#running.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /** Settles once every call registered now has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#running]);
  }
}
