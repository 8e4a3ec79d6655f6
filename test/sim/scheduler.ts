/**
 * The simulator's scheduler: the only source of progress in a simulated run.
 *
 * Nothing completes by itself. Every storage request (test/sim/storage.ts)
 * waits in `pending` until the scheduler completes it, in an order drawn
 * from the seed (usually the oldest, sometimes any: a device with a queue
 * completes out of order). Time is virtual: while a run is active,
 * `setTimeout`/`clearTimeout` are replaced by a timer queue that fires only
 * when the scheduler advances the clock (the library's flush interval and
 * its close-time polling then cost no wall time and cannot make two runs of
 * one seed differ). The driver interleaves API calls between these steps and
 * between microtask turns, so a seed fixes the whole interleaving.
 * @module
 */
import { int, weighted } from '../support/random.ts';

/** A storage request waiting for the scheduler. */
export interface PendingRequest {
  readonly id: number;
  /** Which storage instance made it (a crash drops an instance's requests). */
  readonly owner: object;
  readonly label: string;
  /** Applies the request's effect and settles its promise. */
  complete(): void;
}

interface VirtualTimer {
  id: number;
  due: number;
  callback: () => void;
}

/** What `setTimeout` returns while virtual time is installed. */
class TimerHandle {
  readonly id: number;
  constructor(id: number) {
    this.id = id;
  }
  unref(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  hasRef(): boolean {
    return false;
  }
  [Symbol.toPrimitive](): number {
    return this.id;
  }
}

/** A macrotask turn: every microtask queued before it has run when it resolves. */
export const macrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Scheduler {
  readonly random: () => number;
  readonly pending: PendingRequest[] = [];
  /** Completions and timer firings so far (the trace's clock). */
  steps = 0;
  #nextId = 1;
  #now = 0;
  #timers: VirtualTimer[] = [];
  #saved: { setTimeout: typeof setTimeout; clearTimeout: typeof clearTimeout } | undefined;
  /** Called with a line for every completion (the trace). */
  onStep: ((line: string) => void) | undefined;

  constructor(random: () => number) {
    this.random = random;
  }

  nextId(): number {
    return this.#nextId++;
  }

  /** Replaces the global timers with virtual ones (until uninstall()). */
  install(): void {
    if (this.#saved !== undefined) return;
    this.#saved = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout };
    const fake = (callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]): TimerHandle => {
      const id = this.#nextId++;
      this.#timers.push({ id, due: this.#now + Math.max(1, ms ?? 0), callback: () => callback(...args) });
      return new TimerHandle(id);
    };
    const clear = (handle: unknown): void => {
      const id = handle instanceof TimerHandle ? handle.id : Number(handle);
      this.#timers = this.#timers.filter((t) => t.id !== id);
    };
    globalThis.setTimeout = fake as unknown as typeof setTimeout;
    globalThis.clearTimeout = clear as unknown as typeof clearTimeout;
  }

  uninstall(): void {
    if (this.#saved === undefined) return;
    globalThis.setTimeout = this.#saved.setTimeout;
    globalThis.clearTimeout = this.#saved.clearTimeout;
    this.#saved = undefined;
  }

  submit(request: PendingRequest): void {
    this.pending.push(request);
  }

  /** Forgets every request of `owner` and every timer (a crash: that process is gone). */
  drop(owner: object): void {
    for (let i = this.pending.length - 1; i >= 0; i--) if (this.pending[i]!.owner === owner) this.pending.splice(i, 1);
    this.#timers = [];
  }

  get timers(): number {
    return this.#timers.length;
  }

  get idle(): boolean {
    return this.pending.length === 0 && this.#timers.length === 0;
  }

  /** Completes one pending request: usually the oldest, sometimes another. */
  completeOne(): boolean {
    if (this.pending.length === 0) return false;
    const index = this.pending.length === 1 || this.random() < 0.6 ? 0 : int(this.random, 0, this.pending.length - 1);
    const [request] = this.pending.splice(index, 1);
    this.steps++;
    this.onStep?.(`complete ${request!.label}`);
    request!.complete();
    return true;
  }

  /** Advances the clock to the earliest timer and fires it. */
  fireTimer(): boolean {
    if (this.#timers.length === 0) return false;
    let first = this.#timers[0]!;
    for (const t of this.#timers) if (t.due < first.due || (t.due === first.due && t.id < first.id)) first = t;
    this.#timers = this.#timers.filter((t) => t !== first);
    this.#now = Math.max(this.#now, first.due);
    this.steps++;
    this.onStep?.(`timer @${this.#now}`);
    first.callback();
    return true;
  }

  /**
   * One step of progress: a completion or a timer (timers mostly when no
   * request is pending, as time passes slowly next to a fast device), then
   * a seeded amount of microtask turns, or a whole macrotask turn.
   */
  async step(): Promise<boolean> {
    let progressed: boolean;
    if (this.pending.length > 0 && (this.#timers.length === 0 || this.random() < 0.9)) progressed = this.completeOne();
    else progressed = this.fireTimer();
    await this.settle();
    return progressed;
  }

  /** Lets promise chains run: a few microtask turns, or all of them. */
  async settle(): Promise<void> {
    const how = weighted(this.random, { ticks: 1, turn: 2 });
    if (how === 'ticks') await this.ticks(int(this.random, 0, 4));
    else await macrotask();
  }

  /** `n` microtask turns: continuations queued before them run first, at most n deep. */
  async ticks(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await Promise.resolve();
  }

  /**
   * Steps until `done()` holds or nothing can progress; false if it never
   * held (within `limit` steps: a hang).
   */
  async runUntil(done: () => boolean, limit = 200_000): Promise<boolean> {
    await macrotask();
    for (let i = 0; i < limit; i++) {
      if (done()) return true;
      if (this.idle) {
        // Idle: one more macrotask turn for chains to finish, then decide.
        await macrotask();
        if (done()) return true;
        if (this.idle) return false;
      }
      await this.step();
    }
    return done();
  }

  /** Steps until there is nothing left to complete or fire. */
  async drain(limit = 200_000): Promise<boolean> {
    return this.runUntil(() => false, limit).then(() => this.idle);
  }
}
