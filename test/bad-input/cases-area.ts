// The table, part 2: appending, reservations, flushing, restart areas and base
// moves on log A's area, and every area method on closed areas.
import type { MarshallingArea } from '../../lib/index.ts';
import { BUFFER_SIZE, caseLog, pattern, type Clfs, type Fixture } from './fixture.ts';
import { X } from './cases-log.ts';
import type { Case } from './runner.ts';

const TYPE = 'ERR_INVALID_ARG_TYPE';
const VALUE = 'ERR_INVALID_ARG_VALUE';
const RANGE = 'ERR_OUT_OF_RANGE';
const INVALID_LSN = 'ERR_CLFS_INVALID_LSN';
const TAIL_INVALID = 'ERR_CLFS_TAIL_INVALID';
const RESERVATION_INVALID = 'ERR_CLFS_RESERVATION_INVALID';
const TOO_LARGE = 'ERR_CLFS_RECORD_TOO_LARGE';
const CLOSED = 'ERR_CLFS_CLOSED';

const small = (): Uint8Array => pattern(16, 40);
// eslint-disable-next-line no-sparse-arrays
const sparse = (): Uint8Array[] => [small(), , small()] as Uint8Array[];

/** LSNs that are not ones: by type, by range, and by what they name in log A. */
function badLsns(
  clfs: Clfs,
): { input: string; lsn: (f: Fixture) => unknown; kind: 'type' | 'range' | 'invalid' | 'newer' | 'below' | 'none' }[] {
  const { Lsn } = clfs;
  return [
    { input: '5 (a number)', lsn: () => 5, kind: 'type' },
    { input: "'5' (a string)", lsn: () => '5', kind: 'type' },
    { input: 'null', lsn: () => null, kind: 'type' },
    { input: '-1n', lsn: () => -1n, kind: 'range' },
    { input: '2n**64n', lsn: () => 2n ** 64n, kind: 'range' },
    { input: 'Lsn.INVALID', lsn: () => Lsn.INVALID, kind: 'invalid' },
    { input: 'Lsn.INVALID + 1n', lsn: () => Lsn.INVALID + 1n, kind: 'invalid' },
    { input: 'last + 1n (no record yet)', lsn: (f) => f.A.log.information().lastLsn + 1n, kind: 'newer' },
    { input: 'an LSN 5 containers ahead', lsn: (f) => f.A.future, kind: 'newer' },
    { input: 'r0 (below the base)', lsn: (f) => f.A.r[0], kind: 'below' },
    { input: 'Lsn.NULL (below the base)', lsn: () => Lsn.NULL, kind: 'below' },
    { input: 'a sector inside a block (no block starts there)', lsn: (f) => f.A.midBlock, kind: 'none' },
    { input: 'record 300 of a 4-record block', lsn: (f) => f.A.noRecord, kind: 'none' },
  ];
}

// --- reserveAndAppend -------------------------------------------------------------

const append = (
  input: string,
  expect: string,
  entries: (f: Fixture) => unknown,
  options?: (f: Fixture) => unknown,
): Case => ({
  fn: 'area.reserveAndAppend',
  input,
  expect,
  run: (f) => f.A.area.reserveAndAppend(X(entries(f)), X(options?.(f))),
});

const appendOpts = (input: string, expect: string, options: (f: Fixture) => unknown): Case =>
  append(input, expect, () => small(), options);

export function reserveAndAppendCases(clfs: Clfs): Case[] {
  const max = (f: Fixture): number => f.A.area.maxRecordSize;
  const chainCases = (name: 'undoNextLsn' | 'previousLsn'): Case[] =>
    badLsns(clfs)
      .filter((b) => b.kind !== 'below' && b.kind !== 'none') // older LSNs are allowed (CLFS checks no chain)
      .map((b) =>
        appendOpts(
          `${name} = ${b.input}`,
          b.kind === 'type' ? TYPE : b.kind === 'range' ? RANGE : INVALID_LSN,
          (f) => ({ [name]: b.lsn(f) }),
        ),
      )
      .filter((c) => !c.input.endsWith('= Lsn.INVALID')); // Lsn.INVALID is the default ("no LSN")
  return [
    append('entries = 42', TYPE, () => 42),
    append("entries = 'abc'", TYPE, () => 'abc'),
    append('entries = undefined', TYPE, () => undefined),
    append('entries = {}', TYPE, () => ({})),
    append('entries = an ArrayBuffer', TYPE, () => new ArrayBuffer(8)),
    append('entries = a Uint16Array', TYPE, () => new Uint16Array(4)),
    append('entries = a DataView', TYPE, () => new DataView(new ArrayBuffer(8))),
    append('entries = [1, 2]', TYPE, () => [1, 2]),
    append("entries = [Uint8Array, 'x']", TYPE, () => [small(), 'x']),
    append('entries = [null]', TYPE, () => [null]),
    append('entries = [Uint8Array, <hole>, Uint8Array] (sparse)', TYPE, () => sparse()),
    append('entries = one byte more than maxRecordSize', TOO_LARGE, (f) => new Uint8Array(max(f) + 1)),
    append('entries = [maxRecordSize bytes, 1 byte]', TOO_LARGE, (f) => [new Uint8Array(max(f)), new Uint8Array(1)]),
    append(
      'entries = [1 byte, 1 byte] with entryAlignment = maxRecordSize',
      TOO_LARGE,
      () => [new Uint8Array(1), new Uint8Array(1)],
      (f) => ({ entryAlignment: max(f) }),
    ),
    append(
      'options = 42',
      TYPE,
      () => small(),
      () => 42,
    ),
    append(
      "options = 'x'",
      TYPE,
      () => small(),
      () => 'x',
    ),
    append(
      'options = null',
      TYPE,
      () => small(),
      () => null,
    ),
    append(
      'options = []',
      TYPE,
      () => small(),
      () => [],
    ),
    append(
      'options = true',
      TYPE,
      () => small(),
      () => true,
    ),
    appendOpts("reservations = 'x'", TYPE, () => ({ reservations: 'x' })),
    appendOpts('reservations = 42', TYPE, () => ({ reservations: 42 })),
    appendOpts('options with a misspelt option (forceFlsuh: true)', VALUE, () => ({ forceFlsuh: true })),
    appendOpts('reservations = {}', TYPE, () => ({ reservations: {} })),
    appendOpts('reservations = [0]', RANGE, () => ({ reservations: [0] })),
    appendOpts('reservations = [1.5]', RANGE, () => ({ reservations: [1.5] })),
    appendOpts('reservations = [2**40]', RANGE, () => ({ reservations: [2 ** 40] })),
    appendOpts('reservations = [NaN]', RANGE, () => ({ reservations: [NaN] })),
    appendOpts('reservations = [Infinity]', RANGE, () => ({ reservations: [Infinity] })),
    appendOpts('reservations = [maxRecordSize + 1]', RANGE, (f) => ({ reservations: [max(f) + 1] })),
    appendOpts("reservations = ['x']", TYPE, () => ({ reservations: ['x'] })),
    appendOpts('reservations = [null]', TYPE, () => ({ reservations: [null] })),
    appendOpts("reservations = [100, 'x'] (nothing reserved half-way)", TYPE, () => ({ reservations: [100, 'x'] })),
    appendOpts('reservations = [-100] with nothing reserved', RESERVATION_INVALID, () => ({ reservations: [-100] })),
    append(
      'entries = null, reservations = [2**40]',
      RANGE,
      () => null,
      () => ({ reservations: [2 ** 40] }),
    ),
    append(
      'entries = null, reservations = 1000 x maxRecordSize (more than the log)',
      'ERR_CLFS_LOG_FULL',
      () => null,
      (f) => ({
        reservations: new Array<number>(1000).fill(max(f)),
      }),
    ),
    ...chainCases('undoNextLsn'),
    ...chainCases('previousLsn'),
    appendOpts('entryAlignment = 0', RANGE, () => ({ entryAlignment: 0 })),
    appendOpts('entryAlignment = -1', RANGE, () => ({ entryAlignment: -1 })),
    appendOpts('entryAlignment = 1.5', RANGE, () => ({ entryAlignment: 1.5 })),
    appendOpts('entryAlignment = 2**40', RANGE, () => ({ entryAlignment: 2 ** 40 })),
    appendOpts('entryAlignment = NaN', RANGE, () => ({ entryAlignment: NaN })),
    appendOpts('entryAlignment = bufferSize + 1', RANGE, (f) => ({ entryAlignment: f.A.area.bufferSize + 1 })),
    appendOpts("entryAlignment = '8'", TYPE, () => ({ entryAlignment: '8' })),
    appendOpts("useReservation = 'yes'", TYPE, () => ({ useReservation: 'yes' })),
    appendOpts('useReservation = true with nothing reserved', RESERVATION_INVALID, () => ({ useReservation: true })),
    append(
      'useReservation = true with entries = null',
      VALUE,
      () => null,
      () => ({ useReservation: true }),
    ),
    appendOpts('useReservation = true with reservations = [100]', VALUE, () => ({
      useReservation: true,
      reservations: [100],
    })),
    {
      fn: 'area.reserveAndAppend',
      input: 'useReservation = true, 1 record of 8 bytes reserved (one sector), a sector of data appended',
      expect: RESERVATION_INVALID,
      run: async (f) => {
        await f.A.area.reserveAndAppend(null, { reservations: [8] });
        try {
          return await f.A.area.reserveAndAppend(new Uint8Array(f.sectorSize), { useReservation: true });
        } finally {
          await f.A.area.reserveAndAppend(null, { reservations: [-8] });
        }
      },
    },
    appendOpts("forceAppend = 'x'", TYPE, () => ({ forceAppend: 'x' })),
    appendOpts('forceFlush = 1', TYPE, () => ({ forceFlush: 1 })),
  ];
}

// --- appendBatch ------------------------------------------------------------------

const batch = (
  input: string,
  expect: string,
  records: (f: Fixture) => unknown,
  options?: (f: Fixture) => unknown,
): Case => ({
  fn: 'area.appendBatch',
  input,
  expect,
  run: (f) => f.A.area.appendBatch(X(records(f)), X(options?.(f))),
});

export function appendBatchCases(): Case[] {
  return [
    batch('records = 42', TYPE, () => 42),
    batch(
      'options with reservations (appendBatch reserves nothing)',
      VALUE,
      () => [small()],
      () => ({ reservations: [10] }),
    ),
    batch('records = null', TYPE, () => null),
    batch("records = 'x'", TYPE, () => 'x'),
    batch('records = a Uint8Array (not an array of records)', TYPE, () => small()),
    batch('records = [42]', TYPE, () => [42]),
    batch('records = [null]', VALUE, () => [null]),
    batch("records = [Uint8Array, 'x'] (none appended)", TYPE, () => [small(), 'x']),
    batch('records = [Uint8Array, <hole>, Uint8Array] (sparse)', TYPE, () => sparse()),
    batch('records = [Uint8Array, [Uint8Array, <hole>]]', TYPE, () => [small(), [small(), undefined]]),
    batch('records = [small, too large] (none appended)', TOO_LARGE, (f) => [
      small(),
      new Uint8Array(f.A.area.maxRecordSize + 1),
    ]),
    batch(
      'options = 42',
      TYPE,
      () => [small()],
      () => 42,
    ),
    batch(
      'options = 42 with records = []',
      TYPE,
      () => [],
      () => 42,
    ),
    batch(
      'previousLsn = -1n',
      RANGE,
      () => [small()],
      () => ({ previousLsn: -1n }),
    ),
    batch(
      'undoNextLsn = 5',
      TYPE,
      () => [small()],
      () => ({ undoNextLsn: 5 }),
    ),
    batch(
      'undoNextLsn = an LSN 5 containers ahead',
      INVALID_LSN,
      () => [small()],
      (f) => ({ undoNextLsn: f.A.future }),
    ),
    batch(
      'entryAlignment = 0',
      RANGE,
      () => [small()],
      () => ({ entryAlignment: 0 }),
    ),
    batch(
      "forceFlush = 'x'",
      TYPE,
      () => [small()],
      () => ({ forceFlush: 'x' }),
    ),
    batch(
      'useReservation = true with nothing reserved (none appended)',
      RESERVATION_INVALID,
      () => [small(), small()],
      () => ({
        useReservation: true,
      }),
    ),
  ];
}

// --- alignReservedLog / allocReservedLog / freeReservedLog --------------------------

export function reservationCases(): Case[] {
  const align = (input: string, expect: string | string[], sizes: (f: Fixture) => unknown): Case => ({
    fn: 'area.alignReservedLog',
    input,
    expect,
    sync: true,
    run: (f) => f.A.area.alignReservedLog(X(sizes(f))),
  });
  const alloc = (input: string, expect: string, count: unknown, bytes: unknown): Case => ({
    fn: 'area.allocReservedLog',
    input,
    expect,
    run: (f) => f.A.area.allocReservedLog(X(count), X(bytes)),
  });
  const free = (input: string, expect: string, count: unknown, bytes: unknown): Case => ({
    fn: 'area.freeReservedLog',
    input,
    expect,
    run: (f) => f.A.area.freeReservedLog(X(count), X(bytes)),
  });
  /** With one record of 8192 bytes reserved first (and freed after). */
  const freeReserved = (input: string, count: number, bytes: number): Case => ({
    fn: 'area.freeReservedLog',
    input: `${input} (1 record / 8192 bytes reserved)`,
    expect: RESERVATION_INVALID,
    run: async (f) => {
      await f.A.area.allocReservedLog(1, 8192);
      try {
        return await f.A.area.freeReservedLog(count, bytes);
      } finally {
        await f.A.area.freeReservedLog(1, 8192);
      }
    },
  });
  return [
    align('sizes = 42', TYPE, () => 42),
    align('sizes = null', TYPE, () => null),
    align('sizes = []', [TYPE, VALUE], () => []),
    align('sizes = [0]', RANGE, () => [0]),
    align('sizes = [-1]', RANGE, () => [-1]),
    align('sizes = [1.5]', RANGE, () => [1.5]),
    align('sizes = [NaN]', RANGE, () => [NaN]),
    align('sizes = [2**40]', RANGE, () => [2 ** 40]),
    align('sizes = [maxRecordSize + 1]', RANGE, (f) => [f.A.area.maxRecordSize + 1]),
    align("sizes = ['x']", TYPE, () => ['x']),
    alloc('count = 0', RANGE, 0, 8192),
    alloc('count = -1', RANGE, -1, 8192),
    alloc('count = 1.5', RANGE, 1.5, 8192),
    alloc("count = '1'", TYPE, '1', 8192),
    alloc('bytes = 0', RANGE, 1, 0),
    alloc('bytes = -1', RANGE, 1, -1),
    alloc('bytes = 1.5', RANGE, 1, 1.5),
    alloc('bytes = NaN', RANGE, 1, NaN),
    alloc("bytes = 'x'", TYPE, 1, 'x'),
    alloc('no arguments', TYPE, undefined, undefined),
    alloc('count = 2**28, bytes = 2**40 (more than the log)', 'ERR_CLFS_LOG_FULL', 2 ** 28, 2 ** 40),
    alloc('count = 1, bytes = 2**40 (more than a record takes)', RESERVATION_INVALID, 1, 2 ** 40),
    alloc('count = 1000, bytes = 1 (less than 1000 records take)', RESERVATION_INVALID, 1000, 1),
    free('count = 0', RANGE, 0, 8192),
    free('count = -1', RANGE, -1, 8192),
    free('count = 1.5', RANGE, 1.5, 8192),
    free("count = '1'", TYPE, '1', 8192),
    free('bytes = 0', RANGE, 1, 0),
    free('bytes = -1', RANGE, 1, -1),
    free('bytes = 1.5', RANGE, 1, 1.5),
    free('count = 1e9, nothing reserved', RESERVATION_INVALID, 1e9, 8192),
    free('bytes = 2**40, nothing reserved', RESERVATION_INVALID, 1, 2 ** 40),
    freeReserved('2 records', 2, 8192),
    freeReserved('9000 bytes', 1, 9000),
  ];
}

// --- flushToLsn ---------------------------------------------------------------------

export function flushCases(clfs: Clfs): Case[] {
  const { Lsn } = clfs;
  const flush = (input: string, expect: string, lsn: unknown): Case => ({
    fn: 'area.flushToLsn',
    input,
    expect,
    run: (f) => f.A.area.flushToLsn(X(lsn)),
  });
  return [
    flush('lsn = 5 (a number)', TYPE, 5),
    flush('lsn = 1.5', TYPE, 1.5),
    flush("lsn = '5'", TYPE, '5'),
    flush('lsn = null', TYPE, null),
    flush('lsn = -1n', RANGE, -1n),
    flush('lsn = 2n**64n', RANGE, 2n ** 64n),
    flush('lsn = Lsn.INVALID', INVALID_LSN, Lsn.INVALID),
    flush('lsn = Lsn.INVALID + 1n (not an LSN)', INVALID_LSN, Lsn.INVALID + 1n),
    {
      fn: 'area.flushToLsn',
      input: 'lsn = Lsn.NULL, one record appended and nothing durable yet (no flush timer)',
      expect: 'ok',
      run: async (f) => {
        const { log } = await caseLog(f);
        const area = await log.createMarshallingArea({ bufferSize: 8192, flushIntervalMs: 0 });
        await area.reserveAndAppend(small());
        return area.flushToLsn(Lsn.NULL);
      },
    },
  ];
}

// --- writeRestartArea / readRestartArea / advanceLogBase -----------------------------

export function restartAndBaseCases(clfs: Clfs): Case[] {
  const write = (
    input: string,
    expect: string,
    data: (f: Fixture) => unknown,
    options?: (f: Fixture) => unknown,
  ): Case => ({
    fn: 'area.writeRestartArea',
    input,
    expect,
    run: (f) => f.A.area.writeRestartArea(X(data(f)), X(options?.(f))),
  });
  const baseExpect = {
    type: TYPE,
    range: RANGE,
    invalid: TAIL_INVALID,
    newer: TAIL_INVALID,
    below: TAIL_INVALID,
    none: TAIL_INVALID,
  };
  const exhausted = (fn: string, call: (area: MarshallingArea, f: Fixture) => Promise<unknown>): Case => ({
    fn,
    input: 'every read buffer of the area in use (maxReadBuffers 1, one context open)',
    expect: 'ERR_CLFS_BLOCKS_EXHAUSTED',
    run: async (f, s) => {
      const area = await f.A.log.createMarshallingArea({
        bufferSize: BUFFER_SIZE,
        maxReadBuffers: 1,
        flushIntervalMs: 0,
      });
      s.area = area;
      await area.readLogRecord(f.A.r[1]!, 'forward');
      return call(area, f);
    },
    check: async (_f, s) => {
      await (s.area as MarshallingArea).close();
      return undefined;
    },
  });
  return [
    write('data = 42', TYPE, () => 42),
    write('data = null', TYPE, () => null),
    write('data = undefined', TYPE, () => undefined),
    write("data = 'x'", TYPE, () => 'x'),
    write('data = [Uint8Array]', TYPE, () => [small()]),
    write('data = an ArrayBuffer', TYPE, () => new ArrayBuffer(8)),
    write('data = maxRecordSize + 1 bytes', TOO_LARGE, (f) => new Uint8Array(f.A.area.maxRecordSize + 1)),
    write(
      'options = 42',
      TYPE,
      () => small(),
      () => 42,
    ),
    write(
      'options = null',
      TYPE,
      () => small(),
      () => null,
    ),
    ...badLsns(clfs).map((b) =>
      write(
        `newBaseLsn = ${b.input}`,
        baseExpect[b.kind],
        () => small(),
        (f) => ({ newBaseLsn: b.lsn(f) }),
      ),
    ),
    write(
      "useReservation = 'x'",
      TYPE,
      () => small(),
      () => ({ useReservation: 'x' }),
    ),
    write(
      'useReservation = true with nothing reserved',
      RESERVATION_INVALID,
      () => small(),
      () => ({ useReservation: true }),
    ),
    {
      fn: 'area.readRestartArea',
      input: 'on a log without one (B)',
      expect: 'ERR_CLFS_NO_RESTART',
      run: (f) => f.B.area.readRestartArea(),
    },
    exhausted('area.readRestartArea', (area) => area.readRestartArea()),
    exhausted('area.readLogRecord', (area, f) => area.readLogRecord(f.A.r[2]!, 'forward')),
    ...badLsns(clfs).map((b): Case => ({
      fn: 'area.advanceLogBase',
      input: `lsn = ${b.input}`,
      expect: baseExpect[b.kind],
      run: (f) => f.A.area.advanceLogBase(X(b.lsn(f))),
    })),
    {
      fn: 'area.advanceLogBase',
      input: 'on an empty log (B), lsn = its first LSN',
      expect: TAIL_INVALID,
      run: (f) => f.B.area.advanceLogBase(clfs.Lsn.create(1, 0, 0)),
    },
  ];
}

// --- closed areas ---------------------------------------------------------------------

/** Every area method, on an area closed by area.close() and on one whose log was closed. */
export function closedAreaCases(): Case[] {
  const calls: { name: string; sync?: boolean; call: (a: MarshallingArea, f: Fixture) => unknown }[] = [
    { name: 'reserveAndAppend', call: (a) => a.reserveAndAppend(small()) },
    { name: 'reserveAndAppend (reserve only)', call: (a) => a.reserveAndAppend(null, { reservations: [100] }) },
    { name: 'appendBatch', call: (a) => a.appendBatch([small()]) },
    { name: 'alignReservedLog', sync: true, call: (a) => a.alignReservedLog([100]) },
    { name: 'allocReservedLog', call: (a) => a.allocReservedLog(1, 8192) },
    { name: 'freeReservedLog', call: (a) => a.freeReservedLog(1, 8192) },
    { name: 'flushToLsn', call: (a) => a.flushToLsn() },
    { name: 'flushBuffers', call: (a) => a.flushBuffers() },
    { name: 'readLogRecord', call: (a, f) => a.readLogRecord(f.A.r[1]!, 'forward') },
    { name: 'records().next', call: (a) => a.records().next() },
    { name: 'writeRestartArea', call: (a) => a.writeRestartArea(small()) },
    { name: 'readRestartArea', call: (a) => a.readRestartArea() },
    { name: 'advanceLogBase', call: (a, f) => a.advanceLogBase(f.A.r[1]!) },
  ];
  const cases: Case[] = [];
  for (const [when, area] of [
    ['after area.close()', (f: Fixture) => f.closedArea],
    ['after log.close()', (f: Fixture) => f.C.area],
  ] as const) {
    for (const c of calls) {
      cases.push({ fn: `area.${c.name}`, input: when, expect: CLOSED, sync: c.sync, run: (f) => c.call(area(f), f) });
    }
    cases.push({ fn: 'area.close', input: `a second time, ${when}`, expect: 'ok', run: (f) => area(f).close() });
  }
  return cases;
}
