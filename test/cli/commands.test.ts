// The `clfs` command line (issue 11 §2): every command's happy path, its
// --json output parsed, --help, and the errors users meet (bad arguments,
// an unknown command, no log, a log that exists or is locked): one line on
// stderr and a documented exit code, never a stack trace.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { Log, Lsn } from '../../lib/index.ts';
import { scratchFiles, seedFrom, replay } from '../support/fixtures.ts';
import { ROOT } from '../support/helpers.ts';
import { clfs, clfsJson, expectFailure, writeLog } from './cli.ts';

const scratch = scratchFiles('clfs-cli-');
const SEED = seedFrom('CLFS_CLI_SEED');
const hex = (data: Uint8Array): string => Buffer.from(data).toString('hex');

describe(`clfs (${replay(SEED, 'CLFS_CLI_SEED')})`, () => {
  it('--help lists every command and the exit codes; --version prints the package version', () => {
    const help = clfs('--help');
    expect(help.status).toBe(0);
    for (const command of ['create', 'info', 'dump', 'verify', 'stats', 'tail', 'bench']) {
      expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    }
    expect(help.stdout).toContain('Exit codes:');
    const version = clfs('--version');
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout.trim()).toBe(manifest.version);
    // No command: the help, as a usage error.
    expect(clfs().status).toBe(64);
  });

  it.each(['create', 'info', 'dump', 'verify', 'stats', 'tail', 'bench'])('%s --help', (command) => {
    const run = clfs(command, '--help');
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain(`clfs ${command}`);
    expect(run.stdout).toMatch(/Exit codes/);
  });

  it('create makes a log with the sizes given (suffixes K, M, G), and says what it made', () => {
    const logPath = scratch.fresh();
    const made = clfsJson('create', logPath, '--container-size', '1M', '--containers', '3');
    expect(made).toMatchObject({ containerSize: 1024 * 1024, totalContainers: 3 });
    const text = clfs('create', scratch.fresh(), '--container-size', '512k');
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/containers\s+2 x 512 KiB/);
  });

  it('info prints the information, policy and recovery report; --json parses, LSNs as hex strings', async () => {
    const logPath = scratch.fresh();
    const written = await writeLog(logPath, SEED, 20);
    const info = clfsJson('info', logPath);
    const information = info.information as Record<string, unknown>;
    expect(information.baseLsn).toBe(Lsn.format(written[0]!.lsn));
    expect(information.lastLsn).toMatch(/^0x[0-9a-f]{16}$/);
    expect(info.policy).toMatchObject({ minContainers: 2 });
    expect(info.recoveryReport).toMatchObject({ mode: 'strict', tailReason: 'clean end' });
    const text = clfs('info', logPath);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain(`base LSN     ${Lsn.format(written[0]!.lsn)}`);
  });

  it('dump prints every record forward, by --from, --limit, and along the previous chain; --format hex, utf8, json', async () => {
    const logPath = scratch.fresh();
    const written = await writeLog(logPath, SEED + 1, 40);
    const lines = clfs('dump', logPath, '--json')
      .stdout.trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    // Every data record, then the restart record.
    expect(lines.map((l) => l.lsn).slice(0, 40)).toEqual(written.map((w) => Lsn.format(w.lsn)));
    expect(lines.slice(0, 40).map((l) => l.data)).toEqual(written.map((w) => hex(w.data)));
    expect(lines.at(-1)).toMatchObject({ type: 'restart', data: hex(new TextEncoder().encode('checkpoint')) });
    // --from (hex as printed, or decimal) and --limit.
    const from = clfs('dump', logPath, '--from', Lsn.format(written[10]!.lsn), '--limit', '3', '--json');
    expect(
      from.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { lsn: string }).lsn),
    ).toEqual(written.slice(10, 13).map((w) => Lsn.format(w.lsn)));
    const decimal = clfs('dump', logPath, '--from', String(written[5]!.lsn), '--limit', '1');
    expect(decimal.stdout).toMatch(
      new RegExp(`^${Lsn.format(written[5]!.lsn)} data +${written[5]!.data.byteLength} B`),
    );
    // Backward along the previous LSNs.
    const back = clfs('dump', logPath, '--from', Lsn.format(written[39]!.lsn), '--mode', 'previous', '--json');
    expect(
      back.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { lsn: string }).lsn),
    ).toEqual(written.map((w) => Lsn.format(w.lsn)).reverse());
    // utf8 and json data.
    const restart = (clfsJson('info', logPath).information as { restartLsn: string }).restartLsn;
    expect(clfs('dump', logPath, '--from', restart, '--format', 'utf8').stdout).toContain('"checkpoint"');
    expect(JSON.parse(clfs('dump', logPath, '--from', restart, '--format', 'json', '--json').stdout)).toMatchObject({
      data: null,
      dataHex: hex(new TextEncoder().encode('checkpoint')),
    });
  });

  it('dump --format json prints records that hold JSON as JSON', async () => {
    const logPath = scratch.fresh();
    const log = await Log.create(logPath, { containerSize: 512 * 1024 });
    const area = await log.createMarshallingArea({ bufferSize: 64 * 1024 });
    await area.reserveAndAppend(new TextEncoder().encode(JSON.stringify({ op: 'put', key: 'a', n: 1 })));
    await log.close();
    expect(clfs('dump', logPath, '--format', 'json').stdout).toMatch(/ {2}\{"op":"put","key":"a","n":1\}\n$/);
    expect(JSON.parse(clfs('dump', logPath, '--format', 'json', '--json').stdout)).toMatchObject({
      data: { op: 'put', key: 'a', n: 1 },
    });
  });

  it('stats counts records and bytes by type, blocks, containers, and the record sizes', async () => {
    const logPath = scratch.fresh();
    const written = await writeLog(logPath, SEED + 2, 30, { flushEach: true });
    const stats = clfsJson('stats', logPath);
    const sizes = written.map((w) => w.data.byteLength).sort((a, b) => a - b);
    expect(stats.records).toEqual({
      data: { count: 30, bytes: sizes.reduce((a, b) => a + b, 0) },
      restart: { count: 1, bytes: 'checkpoint'.length },
    });
    expect(stats.recordSize).toEqual({ min: sizes[0], median: sizes[14], max: sizes[29] });
    // Each record was flushed on its own: a block each, and the restart area's.
    expect(stats.blocks).toMatchObject({ count: 31 });
    expect(stats.containers).toEqual([
      expect.objectContaining({ physical: 0, logicalId: 1, state: 'in use' }),
      expect.objectContaining({ physical: 1, logicalId: 0, state: 'never used' }),
    ]);
    expect(stats.lsns).toMatchObject({ base: Lsn.format(written[0]!.lsn) });
    expect(clfs('stats', logPath).stdout).toMatch(/data records +30 /);
  });

  it('verify says a clean log is clean (exit 0)', async () => {
    const logPath = scratch.fresh();
    await writeLog(logPath, SEED + 3, 25, { flushEach: true });
    const result = clfsJson('verify', logPath);
    expect(result).toMatchObject({ status: 'clean', damage: null, tornTail: null, scan: { blocks: 26 } });
    expect(clfs('verify', logPath).stdout).toMatch(/result +clean/);
  });

  describe('errors: one line on stderr, a documented exit code', () => {
    it('an unknown command or option, a bad value, a missing or extra argument: 64', () => {
      expectFailure(clfs('frobnicate'), 64, 'ERR_INVALID_ARG_VALUE');
      expectFailure(clfs('--frob'), 64, 'ERR_INVALID_ARG_VALUE');
      expectFailure(clfs('info', '/x', '--frob'), 64, 'ERR_PARSE_ARGS_UNKNOWN_OPTION');
      expectFailure(clfs('info'), 64, 'ERR_INVALID_ARG_VALUE');
      expectFailure(clfs('info', '/x', '/y'), 64, 'ERR_INVALID_ARG_VALUE');
      expectFailure(clfs('dump', '/x', '--from', 'zz'), 64, 'ERR_INVALID_ARG_VALUE');
      expectFailure(clfs('dump', '/x', '--from', '0xffffffff00000000'), 64, 'ERR_INVALID_ARG_VALUE');
      expectFailure(clfs('dump', '/x', '--mode', 'sideways'), 64, 'ERR_INVALID_ARG_VALUE');
      expectFailure(clfs('dump', '/x', '--format', 'base64'), 64, 'ERR_INVALID_ARG_VALUE');
      expectFailure(clfs('dump', '/x', '--limit', '-1'), 64, 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE');
      expectFailure(clfs('dump', '/x', '--limit'), 64, 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE');
      expectFailure(clfs('tail', '/x', '--interval', '0'), 64, 'ERR_INVALID_ARG_VALUE');
      expectFailure(clfs('tail', '/x', '--interval', '3600001'), 64, 'ERR_INVALID_ARG_VALUE');
      expectFailure(clfs('create', scratch.fresh(), '--container-size', '64Q'), 64, 'ERR_INVALID_ARG_VALUE');
      expectFailure(clfs('create', scratch.fresh(), '--containers', '1'), 64, 'ERR_OUT_OF_RANGE');
      expectFailure(clfs('bench', '--frob'), 64, 'ERR_PARSE_ARGS_UNKNOWN_OPTION');
      expectFailure(clfs('bench', '--reps', 'x'), 64, 'ERR_INVALID_ARG_VALUE');
    });

    it('no log there: 3, ERR_CLFS_NOT_FOUND, for every read command', () => {
      const missing = scratch.fresh();
      for (const command of ['info', 'dump', 'verify', 'stats', 'tail']) {
        expectFailure(clfs(command, missing), 3, 'ERR_CLFS_NOT_FOUND');
      }
      const notLog = scratch.freshDir();
      writeFileSync(path.join(notLog, 'notes.txt'), 'hello');
      expectFailure(clfs('info', notLog), 3, 'ERR_CLFS_NOT_FOUND');
    });

    it('create on an existing path: 3, ERR_CLFS_EXISTS; on a log open elsewhere too', async () => {
      const logPath = scratch.fresh();
      const log = scratch.keep(await Log.create(logPath, { containerSize: 512 * 1024 }));
      expectFailure(clfs('create', logPath), 3, 'ERR_CLFS_EXISTS');
      const dir = scratch.freshDir();
      mkdirSync(path.join(dir, 'sub'));
      expectFailure(clfs('create', dir), 3, 'ERR_CLFS_EXISTS');
      expect(log.information().lastLsn).toBe(Lsn.INVALID);
    });
  });
});
