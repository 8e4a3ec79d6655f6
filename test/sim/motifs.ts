/**
 * Motifs: short sequences of calls a plan sometimes carries, that put the
 * log where defects hide and that independent random calls reach too
 * rarely. Their areas, sizes, LSNs and timing are still drawn from the
 * seed; only the shape is fixed:
 * - reserve, fill, use: one area reserves large records, another fills the
 *   log until it is refused, then the reservations are used (they must
 *   never meet ERR_CLFS_LOG_FULL);
 * - restart race: a restart area moving the base, not awaited, with its
 *   area or the log closed at once while another area appends;
 * - hold and move: read contexts held (up to every read buffer), then the
 *   base moved through the same area;
 * - across: a batch or appends of large records that cross a container's
 *   end (and, fast-forwarded, the end of a 4 GiB container);
 * - kill then crash: a process crash, then a power cut before anything is
 *   synced again (what recovery wrote must not name what the cut takes);
 * - alternate: two areas appending small records in turn, racing (they
 *   share blocks), one reserving and then freeing by negative sizes (each
 *   frees exactly its size), a flush through the other;
 * - truncate race: appends (some flushing) in flight, a read context held,
 *   then a truncation not awaited, raced by appends, flushes, a next() on
 *   the context, a base move, a policy change or an area's close; then a
 *   flush and a read of the whole log.
 * @module
 */
import { chance, int, pick } from '../support/random.ts';
import { maxRecordOf, type SimConfig } from './config.ts';
import { NEWEST, type OpBody, type Size, type Timing } from './plan.ts';

export type Step = { body: OpBody; timing: Timing };

const now = (ticks = 0): Timing => ({ gap: 0, ticks, wait: false });
const awaited = (): Timing => ({ gap: 0, ticks: 0, wait: true });

function append(
  area: number,
  mode: 'new' | 'use' | 'reserve',
  size: Size,
  extra: Partial<Extract<OpBody, { k: 'append' }>> = {},
): OpBody {
  return {
    k: 'append',
    area,
    mode,
    size,
    pieces: 1,
    align: 1,
    res: [],
    prev: -1,
    undo: -1,
    forceAppend: false,
    forceFlush: false,
    ...extra,
  };
}

/** A read forward from the record `start` picks, its context held. */
const heldRead = (area: number, start: number): OpBody => ({
  k: 'read',
  area,
  start,
  mode: 'forward',
  type: 'client',
  nexts: 0,
  user: -1,
  view: false,
  hold: true,
});

export function drawMotif(random: () => number, config: SimConfig): Step[] {
  const a = int(random, 0, 7);
  const b = a + pick(random, [1, 1, 1, 2, 3]);
  // Filling the log takes a small one: a few containers, no autoGrow.
  const small = config.maxContainers === 0 && config.containers * config.containerSize <= 16 * 1024 * 1024;
  type Kind =
    'reserveFillUse' | 'restartRace' | 'holdAndMove' | 'across' | 'killThenCrash' | 'alternate' | 'truncateRace';
  const kinds: Kind[] = ['restartRace', 'holdAndMove', 'across', 'killThenCrash', 'alternate', 'truncateRace'];
  if (small) kinds.push('reserveFillUse', 'reserveFillUse');
  switch (pick(random, kinds)) {
    case 'reserveFillUse': {
      // Records of a good part of a container each, reserved by the area
      // with the smallest buffers that take them (larger buffers make the
      // library keep more slack: the reservation would not fit at all),
      // after moving the base up to free the log; the area with the
      // smallest buffers then fills the log.
      const sizes = config.areas.map((area) => maxRecordOf(area, config));
      const fits = sizes.map((max, i) => ({ max, i })).filter((x) => x.max >= config.containerSize * 0.15);
      if (fits.length === 0) return drawMotif(random, { ...config, maxContainers: 1 });
      const reserver = fits.reduce((x, y) => (y.max < x.max ? y : x)).i;
      const filler = sizes.indexOf(Math.min(...sizes));
      // Sizes the library can reserve here: the records, plus the slack it
      // keeps (a buffer per container they span, and one more), within the
      // containers there will be.
      const added = int(random, 2, 3);
      const space = (config.containers + added - 1) * config.containerSize;
      const buffer = sizes[reserver]! + 96;
      let size = 0;
      let count = 0;
      for (let attempt = 0; attempt < 8 && size === 0; attempt++) {
        const s = Math.min(sizes[reserver]!, Math.floor(config.containerSize * (0.25 + 0.23 * random())));
        const c = pick(random, [2, 3, 3, 4]);
        const reserved = c * (s + 1024);
        if (reserved + (Math.ceil(reserved / config.containerSize) + 1) * buffer <= space) [size, count] = [s, c];
      }
      if (size === 0) return drawMotif(random, { ...config, maxContainers: 1 });
      const fillSize = Math.floor(Math.min(sizes[filler]!, 4000) * (0.5 + 0.5 * random()));
      return [
        // Room for the reservation and the slack the library keeps for it.
        { body: { k: 'addContainers', count: added }, timing: awaited() },
        { body: { k: 'advance', area: reserver, target: NEWEST }, timing: awaited() },
        {
          body: append(reserver, 'reserve', 0, { res: Array.from({ length: count }, () => ({ size, free: false })) }),
          timing: awaited(),
        },
        {
          body: {
            k: 'fill',
            area: filler === reserver ? b : filler,
            size: fillSize,
            // Enough of them to fill every container.
            max: Math.ceil((1.5 * (config.containers + added) * config.containerSize) / (fillSize + 40)),
            forceFlush: chance(random, 0.5),
          },
          timing: awaited(),
        },
        ...Array.from({ length: count }, () => ({
          body: append(reserver, 'use', size, { forceFlush: chance(random, 0.5) }),
          timing: chance(random, 0.5) ? awaited() : now(),
        })),
      ];
    }
    case 'alternate': {
      const sizes = [int(random, 1, 300), int(random, 1, 3000), int(random, 1, 300)];
      const frees = [sizes[2]!, pick(random, [sizes[0]!, sizes[1]!])];
      return [
        {
          body: append(a, 'reserve', 0, { res: sizes.map((size) => ({ size, free: false })) }),
          timing: awaited(),
        },
        ...Array.from({ length: int(random, 6, 16) }, (_, i) => ({
          body: append(i % 2 === 0 ? a : b, 'new', int(random, 0, 64), { forceAppend: chance(random, 0.1) }),
          timing: chance(random, 0.7) ? now() : awaited(),
        })),
        ...frees.map((size) => ({ body: append(a, 'reserve', 0, { res: [{ size, free: true }] }), timing: now() })),
        { body: { k: 'flush', area: b, target: -6 }, timing: awaited() },
      ];
    }
    case 'restartRace':
      return [
        { body: append(b, 'new', int(random, 0, 3000), { forceAppend: chance(random, 0.5) }), timing: now() },
        {
          body: {
            k: 'restart',
            area: a,
            size: int(random, 0, 300),
            base: chance(random, 0.7) ? NEWEST : random(),
            use: false,
          },
          timing: now(int(random, 0, 3)),
        },
        { body: append(b, 'new', int(random, 0, 3000)), timing: now(int(random, 0, 3)) },
        { body: chance(random, 0.7) ? { k: 'closeArea', area: a } : { k: 'closeLog' }, timing: now(int(random, 0, 4)) },
        { body: append(b, 'new', int(random, 0, 3000), { forceFlush: true }), timing: now(int(random, 0, 3)) },
        {
          body: { k: 'flush', area: b, target: -6 },
          timing: { gap: int(random, 0, 3), ticks: 0, wait: chance(random, 0.5) },
        },
      ];
    case 'holdAndMove': {
      const reads = int(random, 1, 3);
      return [
        { body: append(a, 'new', int(random, 0, 2000), { forceFlush: true }), timing: awaited() },
        ...Array.from({ length: reads }, () => ({ body: heldRead(a, random()), timing: awaited() })),
        chance(random, 0.5)
          ? { body: { k: 'advance', area: a, target: NEWEST } as OpBody, timing: awaited() }
          : {
              body: { k: 'restart', area: a, size: int(random, 0, 200), base: NEWEST, use: false } as OpBody,
              timing: awaited(),
            },
      ];
    }
    case 'across':
      return chance(random, 0.5)
        ? [
            {
              body: {
                k: 'batch',
                area: pick(random, [0, a]),
                count: int(random, 2, 12),
                size: pick(random, ['half', 'max'] as Size[]),
                use: false,
                prev: -1,
                forceAppend: false,
                forceFlush: chance(random, 0.5),
              },
              timing: now(),
            },
          ]
        : [
            {
              body: {
                k: 'fill',
                area: pick(random, [0, a]),
                size: pick(random, ['max', 'container', 'half'] as Size[]),
                max: int(random, 2, 10),
                forceFlush: true,
              },
              timing: awaited(),
            },
          ];
    case 'truncateRace': {
      const appendOf = (area: number): OpBody =>
        append(area, 'new', int(random, 0, 3000), {
          forceAppend: chance(random, 0.3),
          forceFlush: chance(random, 0.4),
        });
      const racers = (): OpBody[] => [
        appendOf(a),
        appendOf(b),
        { k: 'flush', area: b, target: pick(random, [-6, NEWEST]) },
        { k: 'next', ctx: 0, count: int(random, 1, 3), user: -1 },
        { k: 'advance', area: a, target: random() },
        { k: 'policy', fields: { autoShrink: 0, logTail: int(random, 0, 90) }, bad: false },
        { k: 'closeArea', area: b },
      ];
      return [
        { body: append(a, 'new', int(random, 0, 2000), { forceFlush: true }), timing: awaited() },
        { body: heldRead(b, random()), timing: awaited() },
        ...Array.from({ length: int(random, 2, 6) }, (_, i) => ({
          body: appendOf(i % 2 === 0 ? a : b),
          timing: now(),
        })),
        { body: { k: 'truncate', area: pick(random, [a, b]), target: random() }, timing: now(int(random, 0, 2)) },
        ...Array.from({ length: int(random, 2, 6) }, () => ({
          body: pick(random, racers()),
          timing: now(int(random, 0, 2)),
        })),
        { body: { k: 'flush', area: a, target: -6 }, timing: awaited() },
        { body: { k: 'records', area: a, from: -1, mode: 'forward', type: 'client', limit: 100 }, timing: awaited() },
      ];
    }
    case 'killThenCrash':
      return [
        { body: append(a, 'new', int(random, 0, 3000)), timing: now() },
        { body: { k: 'flush', area: a, target: -6 }, timing: awaited() },
        { body: append(a, 'new', int(random, 0, 3000), { forceAppend: true }), timing: now() },
        { body: { k: 'kill' }, timing: { gap: int(random, 1, 4), ticks: 0, wait: false } },
        { body: { k: 'crash' }, timing: { gap: int(random, 0, 6), ticks: 0, wait: false } },
      ];
  }
}
