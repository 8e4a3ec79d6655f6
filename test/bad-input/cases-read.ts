// The table, part 3: readLogRecord, read contexts (next, userLsn, misuse while
// a read is pending, terminate), records(), readPreviousRestartArea.
import type { LogRecord, ReadContext } from '../../lib/index.ts';
import { BUFFER_SIZE, sameBytes, type Clfs, type Fixture } from './fixture.ts';
import { X } from './cases-log.ts';
import type { Case } from './runner.ts';

const TYPE = 'ERR_INVALID_ARG_TYPE';
const VALUE = 'ERR_INVALID_ARG_VALUE';
const RANGE = 'ERR_OUT_OF_RANGE';
const INVALID_LSN = 'ERR_CLFS_INVALID_LSN';
const START_OF_LOG = 'ERR_CLFS_START_OF_LOG';
const CLOSED = 'ERR_CLFS_CLOSED';
const BUSY = 'ERR_CLFS_CONTEXT_BUSY';

/** Whether `record` is A's record `i` (r1..r6), in every field. */
function isRecord(f: Fixture, record: LogRecord | null | undefined, lsn: bigint): boolean {
  const want = f.A.records.find((r) => r.lsn === lsn);
  return (
    record != null &&
    want !== undefined &&
    record.lsn === want.lsn &&
    record.type === want.type &&
    record.previousLsn === want.previousLsn &&
    record.undoNextLsn === want.undoNextLsn &&
    sameBytes(record.data, want.data)
  );
}

export function readLogRecordCases(clfs: Clfs): Case[] {
  const { Lsn } = clfs;
  const read = (input: string, expect: string, lsn: (f: Fixture) => unknown, ...rest: unknown[]): Case => ({
    fn: 'area.readLogRecord',
    input,
    expect,
    run: (f) => f.A.area.readLogRecord(X(lsn(f)), X(rest.length > 0 ? rest[0] : 'forward'), X(rest[1])),
  });
  return [
    read('lsn = 5 (a number)', TYPE, () => 5),
    read("lsn = '5'", TYPE, () => '5'),
    read('lsn = null', TYPE, () => null),
    read('lsn = undefined', TYPE, () => undefined),
    read('lsn = -1n', RANGE, () => -1n),
    read('lsn = 2n**64n', RANGE, () => 2n ** 64n),
    read('lsn = Lsn.INVALID', INVALID_LSN, () => Lsn.INVALID),
    read('lsn = Lsn.INVALID + 1n', INVALID_LSN, () => Lsn.INVALID + 1n),
    read('lsn = last + 1n', INVALID_LSN, (f) => f.A.log.information().lastLsn + 1n),
    read('lsn = an LSN 5 containers ahead', INVALID_LSN, (f) => f.A.future),
    read('lsn = record 300 of a 4-record block', INVALID_LSN, (f) => f.A.noRecord),
    read('lsn = a sector inside a block (garbage offset)', INVALID_LSN, (f) => f.A.midBlock),
    read('lsn = 512 bytes into a block', INVALID_LSN, (f) => (f.A.r[1]! & ~0x1ffn) + 512n),
    read('lsn = r0 (below the base)', START_OF_LOG, (f) => f.A.r[0]),
    read('lsn = Lsn.NULL (below the base)', START_OF_LOG, () => Lsn.NULL),
    read("lsn = the restart record, type filter 'data' (default)", INVALID_LSN, (f) => f.A.rs1),
    read("mode = 'x'", VALUE, (f) => f.A.r[1], 'x'),
    read("mode = 'FORWARD'", VALUE, (f) => f.A.r[1], 'FORWARD'),
    read('mode = 5', TYPE, (f) => f.A.r[1], 5),
    read('mode = undefined', TYPE, (f) => f.A.r[1], undefined),
    read('options = 42', TYPE, (f) => f.A.r[1], 'forward', 42),
    read('options = null', TYPE, (f) => f.A.r[1], 'forward', null),
    read("options.type = 'x'", VALUE, (f) => f.A.r[1], 'forward', { type: 'x' }),
    read('options.type = 5', TYPE, (f) => f.A.r[1], 'forward', { type: 5 }),
    read("options.view = 'yes'", TYPE, (f) => f.A.r[1], 'forward', { view: 'yes' }),
    {
      fn: 'area.readLogRecord',
      input: 'on an empty log (B), lsn = its first LSN',
      expect: INVALID_LSN,
      run: (f) => f.B.area.readLogRecord(Lsn.create(1, 0, 0), 'forward'),
    },
    {
      fn: 'area.readLogRecord',
      input: "transferring a { view: true } record's memory is refused (a SharedArrayBuffer) and later reads work",
      expect: 'ok',
      run: async (f, s) => {
        const area = await f.A.log.createMarshallingArea({ bufferSize: BUFFER_SIZE, flushIntervalMs: 0 });
        s.area = area;
        const viewing = await area.readLogRecord(f.A.r[1]!, 'forward', { view: true });
        const memory = viewing.record.data.buffer as unknown as ArrayBuffer;
        let transferred = true;
        try {
          structuredClone(memory, { transfer: [memory] });
        } catch {
          transferred = false;
        }
        if (transferred) throw new Error('the read buffer could be transferred');
        viewing.terminate();
        const context = await area.readLogRecord(f.A.r[2]!, 'forward');
        s.record = context.record;
        context.terminate();
      },
      check: async (f, s) => {
        await (s.area as { close(): Promise<void> }).close();
        return s.record === undefined || isRecord(f, s.record as LogRecord, f.A.r[2]!) ? undefined : 'read a wrong r2';
      },
    },
    {
      fn: 'area.records().next',
      input: 'fromLsn = 5',
      expect: TYPE,
      run: (f) => f.A.area.records(X(5)).next(),
    },
    {
      fn: 'area.records().next',
      input: 'fromLsn = a sector inside a block',
      expect: INVALID_LSN,
      run: (f) => f.A.area.records(f.A.midBlock).next(),
    },
    {
      fn: 'area.records().next',
      input: "mode = 'x'",
      expect: VALUE,
      run: (f) => f.A.area.records(f.A.r[1], X('x')).next(),
    },
    {
      fn: 'area.records().next',
      input: "options.type = 'x'",
      expect: VALUE,
      run: (f) => f.A.area.records(undefined, 'forward', X({ type: 'x' })).next(),
    },
    {
      fn: 'area.records().next',
      input: "mode = 'x' on an empty log (B)",
      expect: VALUE,
      run: (f) => f.B.area.records(undefined, X('x')).next(),
    },
  ];
}

// --- read contexts -----------------------------------------------------------------------

/**
 * A context on A's record `at` (r index) in `mode`; `call` makes the bad
 * call; the check: the bad call did not break the context (its next() still
 * gives the record after `at`) and the context is terminated.
 */
function onContext(
  input: string,
  expect: string,
  at: number,
  mode: 'forward' | 'previous' | 'undoNext',
  call: (context: ReadContext, f: Fixture) => unknown,
  after: number | null,
): Case {
  return {
    fn: 'context.next',
    input: `${input} (context on r${at}, '${mode}')`,
    expect,
    run: async (f, s) => {
      const context = await f.A.area.readLogRecord(f.A.r[at]!, mode);
      s.context = context;
      return call(context, f);
    },
    check: async (f, s) => {
      const context = s.context as ReadContext | undefined;
      if (context === undefined) return 'no context';
      try {
        if (after === null) return undefined;
        const next = await context.next();
        return isRecord(f, next, f.A.r[after]!)
          ? undefined
          : `afterwards the context's next() gives ${next ? `0x${next.lsn.toString(16)}` : 'null'}, not r${after}`;
      } finally {
        context.terminate();
      }
    },
  };
}

export function contextCases(clfs: Clfs): Case[] {
  const { Lsn } = clfs;
  const user = (input: string, expect: string, lsn: (f: Fixture) => unknown, after: number | null = 5): Case =>
    onContext(`userLsn = ${input}`, expect, 6, 'previous', (c, f) => c.next({ userLsn: X(lsn(f)) }), after);
  return [
    onContext('options = 42', TYPE, 1, 'forward', (c) => c.next(X(42)), 2),
    onContext("options = 'x'", TYPE, 1, 'forward', (c) => c.next(X('x')), 2),
    onContext('options = null', TYPE, 1, 'forward', (c) => c.next(X(null)), 2),
    onContext('userLsn on a forward context', VALUE, 2, 'forward', (c, f) => c.next({ userLsn: f.A.r[1]! }), 3),
    user('5 (a number)', TYPE, () => 5),
    user('-1n', RANGE, () => -1n),
    user('2n**64n', RANGE, () => 2n ** 64n),
    user('the current record (not older)', VALUE, (f) => f.A.r[6]),
    user('a newer LSN', VALUE, (f) => f.A.future),
    user('Lsn.INVALID', VALUE, () => Lsn.INVALID),
    user('a sector inside an older block (garbage)', INVALID_LSN, (f) => f.A.midBlock, null),
    user('record 300 of an older block', INVALID_LSN, (f) => f.A.noRecord, null),
    user('r0 (below the base)', START_OF_LOG, (f) => f.A.r[0], null),
    {
      fn: 'context.next',
      input: 'a second next() while the first is pending',
      expect: BUSY,
      run: async (f, s) => {
        const context = await f.A.area.readLogRecord(f.A.r[4]!, 'forward');
        s.context = context;
        s.first = context.next();
        return context.next();
      },
      check: async (f, s) => {
        const first = await (s.first as Promise<LogRecord | null>);
        (s.context as ReadContext).terminate();
        return isRecord(f, first, f.A.r[5]!) ? undefined : 'the first next() did not give r5';
      },
    },
    {
      fn: 'context.next',
      input: 'next({ userLsn }) while a next() is pending',
      expect: BUSY,
      run: async (f, s) => {
        const context = await f.A.area.readLogRecord(f.A.r[6]!, 'previous');
        s.context = context;
        s.first = context.next();
        return context.next({ userLsn: f.A.r[1]! });
      },
      check: async (f, s) => {
        const first = await (s.first as Promise<LogRecord | null>);
        (s.context as ReadContext).terminate();
        return isRecord(f, first, f.A.r[5]!) ? undefined : 'the first next() did not give r5';
      },
    },
    {
      fn: 'context.readPreviousRestartArea',
      input: 'while a readPreviousRestartArea() is pending',
      expect: BUSY,
      run: async (f, s) => {
        const { context } = await f.A.area.readRestartArea();
        s.context = context;
        s.first = context.readPreviousRestartArea();
        return context.readPreviousRestartArea();
      },
      check: async (_f, s) => {
        const first = await (s.first as Promise<unknown>);
        (s.context as ReadContext).terminate();
        return first === null ? undefined : 'the first readPreviousRestartArea() did not give null';
      },
    },
    {
      fn: 'context.readPreviousRestartArea',
      input: 'on a data context (not from readRestartArea)',
      expect: VALUE,
      run: async (f, s) => {
        const context = await f.A.area.readLogRecord(f.A.r[1]!, 'forward');
        s.context = context;
        return context.readPreviousRestartArea();
      },
      check: (_f, s) => void (s.context as ReadContext).terminate(),
    },
    {
      fn: 'context.terminate',
      input: 'twice',
      expect: 'ok',
      sync: true,
      run: (f) => {
        const context = f.closedAreaContext;
        context.terminate();
        return context.terminate();
      },
    },
    {
      fn: 'context[Symbol.asyncDispose]',
      input: 'after terminate()',
      expect: 'ok',
      run: async (f) => {
        const context = await f.A.area.readLogRecord(f.A.r[1]!, 'forward');
        context.terminate();
        return context[Symbol.asyncDispose]();
      },
    },
    {
      fn: 'context.next',
      input: 'after terminate()',
      expect: CLOSED,
      run: async (f) => {
        const context = await f.A.area.readLogRecord(f.A.r[1]!, 'forward');
        context.terminate();
        return context.next();
      },
    },
    {
      fn: 'context.readPreviousRestartArea',
      input: 'after terminate()',
      expect: CLOSED,
      run: async (f) => {
        const { context } = await f.A.area.readRestartArea();
        context.terminate();
        return context.readPreviousRestartArea();
      },
    },
    {
      fn: 'context.next',
      input: 'context of an area closed since',
      expect: CLOSED,
      run: (f) => f.closedAreaContext.next(),
    },
    { fn: 'context.next', input: 'context of a log closed since', expect: CLOSED, run: (f) => f.C.context.next() },
    {
      fn: 'context.readPreviousRestartArea',
      input: 'restart context of a log closed since',
      expect: CLOSED,
      run: (f) => f.C.restartContext.readPreviousRestartArea(),
    },
    {
      fn: 'context.next',
      input:
        'terminate() while next() is pending: the buffer is released when that read ends, and another context never reads wrong data (200 rounds)',
      expect: 'ok',
      run: async (f) => {
        const failures: string[] = [];
        for (let round = 0; round < 200 && failures.length === 0; round++) {
          const area = await f.A.log.createMarshallingArea({
            bufferSize: BUFFER_SIZE,
            maxReadBuffers: 1,
            flushIntervalMs: 0,
          });
          try {
            // r4 is the last record of its block: next() reads the following block from the container.
            const first = await area.readLogRecord(f.A.r[4]!, 'forward');
            const pending = first.next();
            first.terminate();
            const [next, second] = await Promise.allSettled([pending, area.readLogRecord(f.A.r[1]!, 'forward')]);
            if (next.status === 'fulfilled' && !isRecord(f, next.value, f.A.r[5]!)) {
              failures.push(`round ${round}: the pending next() gave a wrong record`);
            } else if (next.status === 'rejected' && (next.reason as { code?: string }).code !== CLOSED) {
              failures.push(
                `round ${round}: the pending next() rejected with ${(next.reason as { code?: string }).code}`,
              );
            }
            if (second.status === 'rejected') {
              // The terminated context's read still holds the only buffer until it ends:
              // BLOCKS_EXHAUSTED is right then, and once it ended the buffer is free.
              const e = second.reason as { code?: string };
              if (e.code !== 'ERR_CLFS_BLOCKS_EXHAUSTED') {
                failures.push(
                  `round ${round}: readLogRecord(r1) on the other context failed with ${e.code} (r1 exists)`,
                );
              } else {
                const retry = await area.readLogRecord(f.A.r[1]!, 'forward');
                if (!isRecord(f, retry.record, f.A.r[1]!)) failures.push(`round ${round}: the retry read a wrong r1`);
                retry.terminate();
              }
            } else {
              const context = second.value;
              if (!isRecord(f, context.record, f.A.r[1]!))
                failures.push(`round ${round}: the other context read a wrong r1`);
              const r2 = await context.next();
              if (!isRecord(f, r2, f.A.r[2]!))
                failures.push(`round ${round}: the other context's next() gave a wrong r2`);
              context.terminate();
            }
          } finally {
            await area.close();
          }
        }
        if (failures.length > 0) throw Object.assign(new Error(failures[0]), { code: 'E_TEST_WRONG_READ' });
      },
    },
  ];
}
