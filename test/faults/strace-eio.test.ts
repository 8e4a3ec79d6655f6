// Tier 3 on the native path: a child on the thread engine appends under
// `strace -f -e trace=S -e inject=S:error=EIO:when=N+` (S = pwritev, or
// fdatasync with durability 'fdatasync'), so its Nth call of S and every
// later one fail with EIO (strace counts per thread: see strace-kill.test.ts).
// The child reports every outcome; the parent checks the log fail-stopped
// (I6: the failing flush and everything after it rejected with
// ERR_CLFS_IO_FAILED whose cause is the EIO, nothing resolved after it),
// then reopens the log without faults: every acknowledged record is there,
// as a prefix of what was appended, and appends continue.
// `npm test` runs a few N; `npm run test:kill` sweeps N until the workload
// completes without reaching it.
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { Log } from '../../lib/index.ts';
import { KILL_FULL, replay, runTraced, straceTier, injection } from '../support/faults.ts';
import { ChildLedger, readReport } from '../support/faults-native.ts';
import { seededUint32 } from '../support/fixtures.ts';
import { payloadSource, taggedLines } from '../support/log.ts';

const { skip: SKIP, seed: SEED, scratch } = straceTier('strace EIO-injection tier', 'clfs-strace-eio-');
const random = seededUint32(SEED);
const report: string[] = [];

afterAll(() => {
  if (SKIP === undefined)
    console.log(`strace EIO tier (${KILL_FULL ? 'full' : 'sample'}, ${replay(SEED)}):\n${report.join('\n')}`);
});

const MAX_PAYLOAD = 1200;

/**
 * Appends 40 records one at a time with forceFlush, with a storm of eight
 * concurrent ones, a batch and a restart area (moving the base) every tenth;
 * once anything failed, tries one of each operation more; closes. Prints
 * `ack <lsn> <seq> <sha1>` for each acknowledged record, `rej <what>
 * <first|after> <code> <cause code> <cause syscall>` for each rejection,
 * `violation <what>` for anything that resolved after a rejection, and
 * `openfail ...`, `closed` or `closefail ...`, into ARGS.report (see
 * faults-native.ts: stdout could lose lines at process.exit).
 */
const EIO_CHILD = `
import { Log } from 'CLFS';
import { createHash } from 'node:crypto';
import { openSync, writeSync } from 'node:fs';
${payloadSource}
const A = ARGS;
const report = openSync(A.report, 'a');
const say = (line) => writeSync(report, line + '\\n');
const sha1 = (d) => createHash('sha1').update(d).digest('hex');
const show = (e) => [e?.code ?? String(e), e?.cause?.code ?? '-', e?.cause?.syscall ?? e?.syscall ?? '-'].join(' ');
let log;
try {
  log = await Log.open(A.path, { durability: A.durability, engine: 'threads' });
} catch (e) {
  say('openfail ' + show(e));
  process.exit(0);
}
const area = await log.createMarshallingArea({ bufferSize: 16384, flushIntervalMs: 0 });
const big = await log.createMarshallingArea({ bufferSize: 65536, flushIntervalMs: 0 });
let seq = 0;
let failed = false;
let lastAcked;
const rej = (what, e) => {
  say('rej ' + what + ' ' + (failed ? 'after' : 'first') + ' ' + show(e));
  failed = true;
};
const resolved = (what) => { if (failed) say('violation ' + what + ' resolved after a rejection'); };
async function one(target) {
  const my = seq++;
  const data = payloadFor(A.seed, A.round, my, A.maxPayload);
  try {
    const { lsn } = await target.reserveAndAppend(data, { forceFlush: true });
    resolved('append');
    lastAcked = lsn;
    say('ack ' + lsn + ' ' + my + ' ' + sha1(data));
  } catch (e) {
    rej('append', e);
  }
}
async function batch() {
  const first = seq;
  seq += 5;
  const datas = Array.from({ length: 5 }, (_, k) => payloadFor(A.seed, A.round, first + k, A.maxPayload));
  try {
    const lsns = await big.appendBatch(datas, { forceFlush: true });
    resolved('appendBatch');
    lsns.forEach((lsn, k) => say('ack ' + lsn + ' ' + (first + k) + ' ' + sha1(datas[k])));
  } catch (e) {
    rej('appendBatch', e);
  }
}
for (let i = 0; i < 40; i++) {
  await one(area);
  if (i % 10 === 9) {
    await Promise.all([...Array.from({ length: 8 }, () => one(i % 20 === 9 ? area : big)), batch()]);
    try {
      const base = lastAcked;
      if (base !== undefined) say('want-base ' + base);
      await big.writeRestartArea(new TextEncoder().encode('clfs-restart ' + A.seed + ' ' + A.round + ' ' + i),
        base === undefined ? {} : { newBaseLsn: base });
      resolved('writeRestartArea');
      if (base !== undefined) say('base ' + base);
    } catch (e) {
      rej('writeRestartArea', e);
    }
  }
}
if (failed) {
  for (const [what, start] of [
    ['append', () => area.reserveAndAppend(new Uint8Array(10))],
    ['appendBatch', () => big.appendBatch([new Uint8Array(10)], { forceFlush: true })],
    ['flushToLsn', () => area.flushToLsn()],
    ['writeRestartArea', () => area.writeRestartArea(new Uint8Array(10))],
    ['advanceLogBase', () => {
      if (lastAcked === undefined) return Promise.reject(new Error('nothing acked'));
      say('want-base ' + lastAcked);
      return big.advanceLogBase(lastAcked);
    }],
  ]) {
    try {
      await start();
      say('violation ' + what + ' resolved after a rejection');
    } catch (e) {
      if (String(e) !== 'Error: nothing acked') say('rej ' + what + ' after ' + show(e));
    }
  }
}
try {
  await log.close();
  say('closed');
} catch (e) {
  say('closefail ' + show(e));
}
`;

const SWEEPS: { syscall: 'pwritev' | 'fdatasync'; durability: 'dsync' | 'fdatasync'; sample: number[] }[] = [
  { syscall: 'pwritev', durability: 'dsync', sample: [1, 2 + (random() % 8)] },
  { syscall: 'pwritev', durability: 'fdatasync', sample: [3 + (random() % 8)] },
  { syscall: 'fdatasync', durability: 'fdatasync', sample: [1 + (random() % 6)] },
];

describe.skipIf(SKIP !== undefined)(
  `strace: EIO from the Nth system call on${SKIP ? ` (skipped: ${SKIP})` : ''}`,
  () => {
    it.each(SWEEPS)(
      '$syscall failing from N on ($durability): the log fail-stops with ERR_CLFS_IO_FAILED (cause EIO), acknowledges nothing after, and reopens with every acknowledged record',
      async ({ syscall, durability, sample }) => {
        let hits = 0;
        let completedAt: number | undefined;
        const ns = KILL_FULL ? Array.from({ length: 500 }, (_, i) => i + 1) : sample;
        for (const n of ns) {
          const context = `EIO on ${syscall} #${n}+ (${durability}), ${replay(SEED)}`;
          const logPath = path.join(scratch.dir, `${syscall}-${durability}-${n}`);
          await (
            await Log.create(logPath, { containerSize: 512 * 1024, containers: 2, durability, engine: 'threads' })
          ).close();
          const ledger = new ChildLedger(SEED, MAX_PAYLOAD);
          await ledger.verify(logPath, 0, `${context}: the new log`);
          const reportFile = `${logPath}.report`;
          const args = { path: logPath, report: reportFile, seed: SEED, round: 1, durability, maxPayload: MAX_PAYLOAD };
          const result = await runTraced(EIO_CHILD, args, injection(syscall, `error=EIO:when=${n}+`));
          expect(result.code, `${context}: the child crashed: ${result.stderr}`).toBe(0);
          const out = readReport(reportFile);
          expect(taggedLines(out, 'violation'), `${context}: resolved after the log failed`).toEqual([]);
          const openFailure = taggedLines(out, 'openfail')[0];
          const rejections = taggedLines(out, 'rej');
          if (openFailure !== undefined) {
            // No log instance yet: Log.open itself rejects, with the system error.
            expect(openFailure[0], `${context}: Log.open rejected with ${openFailure.join(' ')}`).toBe('EIO');
          } else {
            expect(out, context).toMatch(/^(closed|closefail .*)$/m);
          }
          for (const [what, when, code, causeCode] of rejections) {
            expect(
              `${what} (${when}): ${code} caused by ${causeCode}`,
              `${context}: every rejection is the fail-stop error`,
            ).toBe(`${what} (${when}): ERR_CLFS_IO_FAILED caused by EIO`);
          }
          const closeFailure = taggedLines(out, 'closefail')[0];
          if (closeFailure !== undefined) {
            expect(closeFailure.slice(0, 2).join(' '), `${context}: close rejected with`).toBe(
              'ERR_CLFS_IO_FAILED EIO',
            );
          }
          const hit = openFailure !== undefined || rejections.length > 0 || closeFailure !== undefined;
          if (hit) {
            hits++;
            const later = rejections.filter((r) => r[1] === 'after').length;
            if (rejections.length > 0) expect(later, `${context}: later operations were tried`).toBeGreaterThan(0);
          } else {
            expect(out, context).toContain('closed');
          }
          ledger.absorb(out, 1);
          await ledger.verify(logPath, 1, context, { twice: true });
          await ledger.appendAndCheck(logPath, 2, context);
          if (!hit) {
            completedAt = n;
            break;
          }
        }
        report.push(
          `  EIO on ${syscall} from N on (${durability}): ${hits} runs failed the log, N = ${KILL_FULL ? `1..${completedAt ?? ns.length}` : ns.join(', ')}${completedAt !== undefined ? ` (N = ${completedAt} completed)` : ''}`,
        );
        if (KILL_FULL) expect(completedAt, `${syscall}: the sweep never completed`).toBeDefined();
      },
      KILL_FULL ? 900_000 : 60_000,
    );
  },
);
