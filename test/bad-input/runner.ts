// Runs the bad-input table: each case's call, how it ended (threw, rejected,
// resolved, hung), whether it changed the logs, and the verdict against what
// the case expects. Plain data out, so a child process can report the same.
import { HANG_MS, makeFixture, snapshot, snapshotDiff, verifyIntegrity, type Clfs, type Fixture } from './fixture.ts';

/** A code, or 'ok' for a call that must succeed. */
export type Expectation = string;

export interface Case {
  /** The function called, as users write it: 'area.reserveAndAppend'. */
  fn: string;
  /** The bad input, in words: 'entries = 42'. */
  input: string;
  /** The code the call must fail with (any of several), or 'ok'. */
  expect: Expectation | readonly Expectation[];
  /** A sync API (must throw synchronously); otherwise it must return a Promise that rejects. */
  sync?: boolean;
  /** The error is the caller's own, passed through: it need not be a ClfsError. */
  foreign?: boolean;
  /** The call may change logs A and B (the snapshot check is skipped). */
  effects?: boolean;
  /** Why the case cannot run on this platform (it is not called; its test is skipped, saying so). */
  skip?: string | undefined;
  /** Might kill the process: runs alone, in a child process of its own. */
  isolated?: boolean;
  /** How long the call may take before it counts as hung (HANG_MS unless said: a long loop of calls says more). */
  hangMs?: number;
  /** Makes the call; `s` carries state to `check`. */
  run(f: Fixture, s: Record<string, unknown>): unknown;
  /** After the call settled: a problem in words, or undefined. */
  check?(f: Fixture, s: Record<string, unknown>, value: unknown): Promise<string | undefined> | string | undefined;
}

/** How a call ended, as plain data. */
export interface Outcome {
  how: 'threw' | 'rejected' | 'returned' | 'resolved' | 'hung' | 'crashed';
  code?: string;
  name?: string;
  message?: string;
  clfsError?: boolean;
  sideEffect?: string;
  checkProblem?: string;
}

export function expectations(c: Case): readonly string[] {
  return typeof c.expect === 'string' ? [c.expect] : c.expect;
}

export function label(c: Case): string {
  return `${c.fn}: ${c.input} -> ${expectations(c).join(' | ')}`;
}

const HUNG = Symbol('hung');

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function errorFields(clfs: Clfs, error: unknown): Partial<Outcome> {
  const e = error as { code?: unknown; name?: unknown; message?: unknown } | null;
  return {
    code: typeof e?.code === 'string' ? e.code : undefined,
    name: typeof e?.name === 'string' ? e.name : typeof error,
    message: typeof e?.message === 'string' ? e.message.slice(0, 300) : String(error).slice(0, 300),
    clfsError: error instanceof clfs.ClfsError,
  };
}

/** Closes what a call gave back (a Log, an area, a file, a context) if the case did not. */
async function release(value: unknown): Promise<void> {
  if (value === null || typeof value !== 'object') return;
  const v = value as { close?: () => unknown; terminate?: () => unknown; context?: unknown };
  try {
    if (typeof v.terminate === 'function') v.terminate();
    else if (typeof v.close === 'function') await v.close();
    if (v.context !== undefined) await release(v.context);
  } catch {
    // A close that fails is not what this case is about.
  }
}

export async function execute(f: Fixture, c: Case): Promise<Outcome> {
  const state: Record<string, unknown> = {};
  const before = snapshot(f);
  let outcome: Outcome;
  let value: unknown;
  try {
    const result = c.run(f, state);
    if (isThenable(result)) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const settled = Promise.resolve(result);
      settled.catch(() => undefined); // a hung call that rejects later must not be unhandled
      try {
        value = await Promise.race([
          settled,
          new Promise((resolve) => (timer = setTimeout(() => resolve(HUNG), c.hangMs ?? HANG_MS))),
        ]);
        outcome = value === HUNG ? { how: 'hung' } : { how: 'resolved' };
      } catch (error) {
        outcome = { how: 'rejected', ...errorFields(f.clfs, error) };
      } finally {
        clearTimeout(timer);
      }
    } else {
      value = result;
      outcome = { how: 'returned' };
    }
  } catch (error) {
    outcome = { how: 'threw', ...errorFields(f.clfs, error) };
  }
  if (c.check !== undefined) {
    try {
      outcome.checkProblem = (await c.check(f, state, value)) ?? undefined;
    } catch (error) {
      const e = errorFields(f.clfs, error);
      outcome.checkProblem = `the check after the call failed: ${e.code ?? e.name}: ${e.message}`;
    }
  }
  if (outcome.how === 'resolved' || outcome.how === 'returned') await release(value);
  if (!c.effects) outcome.sideEffect = snapshotDiff(before, snapshot(f));
  return outcome;
}

/** What is wrong with an outcome, in words; empty when the case passed. */
export function judge(c: Case, o: Outcome): string[] {
  const problems: string[] = [];
  const wanted = expectations(c);
  const failed = o.how === 'threw' || o.how === 'rejected';
  if (o.how === 'crashed') problems.push(`the process died: ${o.message ?? ''}`);
  else if (o.how === 'hung') problems.push(`never settled (waited ${c.hangMs ?? HANG_MS} ms)`);
  else if (c.sync && (o.how === 'resolved' || o.how === 'rejected')) problems.push('a sync API returned a Promise');
  else if (!c.sync && o.how === 'threw')
    problems.push(`threw synchronously (${o.code ?? o.name}) instead of returning a rejected Promise`);
  else if (!c.sync && o.how === 'returned') problems.push('did not return a Promise');
  if (failed) {
    if (o.code === undefined || !wanted.includes(o.code)) {
      const got = o.code ?? `an error without a code (${o.name}: ${o.message})`;
      problems.push(`failed with ${got} instead of ${wanted.join(' or ')}${o.code ? ` (${o.message})` : ''}`);
    } else if (!o.clfsError && !c.foreign) {
      problems.push(`${o.code} came as a ${o.name}, not a ClfsError`);
    }
  } else if ((o.how === 'resolved' || o.how === 'returned') && !wanted.includes('ok')) {
    problems.push(`succeeded instead of failing with ${wanted.join(' or ')}`);
  }
  if (o.sideEffect !== undefined) problems.push(`changed the log: ${o.sideEffect}`);
  if (o.checkProblem !== undefined) problems.push(o.checkProblem);
  return problems;
}

export interface TableRun {
  outcomes: (Outcome | undefined)[];
  integrity: string[];
  ms: number;
}

/**
 * Builds the fixture under `dir`, runs the cases (all but the isolated ones,
 * or only `only`), then checks integrity. `onOutcome` hears each outcome as
 * it comes (a child process prints them, so a crash still shows where).
 */
export async function runTable(
  clfs: Clfs,
  cases: readonly Case[],
  dir: string,
  options: { only?: number; onOutcome?: (index: number, outcome: Outcome) => void } = {},
): Promise<TableRun> {
  const start = performance.now();
  const f = await makeFixture(clfs, dir);
  const outcomes: (Outcome | undefined)[] = cases.map(() => undefined);
  for (const [index, c] of cases.entries()) {
    if (options.only !== undefined ? index !== options.only : c.isolated || c.skip !== undefined) continue;
    const outcome = await execute(f, c);
    outcomes[index] = outcome;
    options.onOutcome?.(index, outcome);
  }
  for (const cleanup of f.cleanups.reverse()) await cleanup().catch(() => undefined);
  const integrity = await verifyIntegrity(f);
  return { outcomes, integrity, ms: performance.now() - start };
}
