// examples/kv, attacked in process: commits survive and losers vanish across
// a crash (a crash image: the store's files copied while it runs), an abort
// after the log filled up, a crash in the middle of a rollback or of
// recovery, and transactions racing for one key (strict 2PL, wait-die).
import { cpSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import { ClfsError, Log, Lsn } from 'clfs';

import { encodeRecord } from '../../examples/kv/records.ts';
import { KvError, KvStore } from '../../examples/kv/store.ts';
import { scratchFiles } from '../support/fixtures.ts';

const scratch = scratchFiles('clfs-example-kv-');
const open: KvStore[] = [];

afterEach(async () => {
  for (const store of open.splice(0)) await store.close().catch(() => undefined);
});

async function openStore(dir: string, options: Parameters<typeof KvStore.open>[1] = {}): Promise<KvStore> {
  const store = await KvStore.open(dir, options);
  open.push(store);
  return store;
}

/** The store's files as they are now (every acknowledged write), opened as a store: a crash. */
async function crashImage(dir: string): Promise<KvStore> {
  const copy = scratch.fresh('crash');
  cpSync(dir, copy, { recursive: true });
  return openStore(copy);
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ClfsError || error instanceof KvError) return error.code;
    throw error;
  }
  return 'resolved';
}

describe('examples/kv', () => {
  it('a committed transaction survives a reopen; an aborted one leaves nothing', async () => {
    const dir = scratch.fresh();
    const store = await openStore(dir);
    const t1 = store.begin();
    await t1.put('a', '1');
    await t1.put('b', '2');
    await t1.commit();
    const t2 = store.begin();
    await t2.put('a', 'x');
    await t2.delete('b');
    expect(store.get('a')).toBe('1'); // not committed: unseen
    await t2.abort();
    expect(store.entries()).toEqual(
      new Map([
        ['a', '1'],
        ['b', '2'],
      ]),
    );
    await store.close();
    const again = await openStore(dir);
    expect(again.entries()).toEqual(
      new Map([
        ['a', '1'],
        ['b', '2'],
      ]),
    );
    expect(again.recovery.losers).toEqual([]);
  });

  it('a crash: acknowledged commits are all there, an open transaction is rolled back by compensation records', async () => {
    const dir = scratch.fresh();
    const store = await openStore(dir, { checkpointEvery: 3 });
    for (let i = 0; i < 10; i++) {
      const t = store.begin();
      await t.put(`k${i % 4}`, `v${i}`);
      await t.commit();
    }
    const loser = store.begin();
    await loser.put('k0', 'lost');
    await loser.put('new', 'lost');
    await loser.delete('k1');
    await store.flush(); // the loser's updates reach the disk: recovery must undo them
    const crashed = await crashImage(dir);
    expect(crashed.recovery.losers).toEqual([loser.id]);
    expect(crashed.recovery.compensated).toBe(3);
    expect(crashed.entries()).toEqual(
      new Map([
        ['k0', 'v8'],
        ['k1', 'v9'],
        ['k2', 'v6'],
        ['k3', 'v7'],
      ]),
    );
    // New transactions get ids above every id in the log.
    expect(crashed.begin().id).toBeGreaterThan(loser.id);
  });

  it('HandleLogFull: an update meets a full log (ERR_CLFS_LOG_FULL), and the abort still succeeds: it writes into space reserved up front; a checkpoint then frees the log', async () => {
    const dir = scratch.fresh();
    // No checkpoints on demand: an old transaction pins the base, the log fills.
    const store = await openStore(dir, { containerSize: 512 * 1024, containers: 2, logTail: 0, checkpointEvery: 0 });
    const pin = store.begin();
    await pin.put('pin', 'p');
    const victim = store.begin();
    for (let i = 0; i < 20; i++) await victim.put(`v${i}`, 'x'.repeat(100));
    let full = '';
    let key = '';
    for (let i = 0; full === '' && i < 10_000; i++) {
      const t = store.begin();
      key = `f${i % 20}`;
      const failed = await code(t.put(key, 'y'.repeat(2000)));
      if (failed === 'resolved') {
        await t.commit();
      } else {
        full = failed;
        await t.abort();
      }
    }
    expect(full).toBe('ERR_CLFS_LOG_FULL');
    const still = store.begin();
    expect(await code(still.put(key, 'y'.repeat(2000)))).toBe('ERR_CLFS_LOG_FULL');
    await still.abort();
    await victim.abort(); // 20 compensation records and an end record, into the reservation
    await pin.commit();
    for (let i = 0; i < 20; i++) expect(store.get(`v${i}`)).toBeUndefined();
    expect(store.get('pin')).toBe('p');
    // Once the pin is gone, a checkpoint (into the room reserved for one: the log
    // is full) moves the base and frees the log.
    await store.checkpoint();
    const after = store.begin();
    await after.put('after', 'ok');
    await after.commit();
    await store.close();
    const again = await openStore(dir);
    expect(again.get('after')).toBe('ok');
    expect(again.get('v0')).toBeUndefined();
  });

  it('a crash in the middle of a rollback (or of recovery): recovery resumes at the last compensation record undo-next LSN, undoing nothing twice', async () => {
    const dir = scratch.fresh();
    // The log as a store leaves it when it dies after the first two compensation
    // records of a rollback of four updates (recovery's undo writes the same records).
    const log = await Log.create(dir, { containerSize: 1024 * 1024, containers: 2 });
    const area = await log.createMarshallingArea({ bufferSize: 64 * 1024 });
    const append = async (
      record: Parameters<typeof encodeRecord>[0],
      chain: { previousLsn?: Lsn; undoNextLsn?: Lsn },
    ) => (await area.reserveAndAppend(encodeRecord(record), chain)).lsn!;
    const c0 = await append({ t: 'u', x: 1, k: 'a', v: 'committed', b: null }, {});
    await append({ t: 'c', x: 1 }, { previousLsn: c0 });
    const u = [await append({ t: 'u', x: 2, k: 'a', v: '1', b: 'committed' }, {})];
    u.push(await append({ t: 'u', x: 2, k: 'b', v: '2', b: null }, { previousLsn: u[0] }));
    u.push(await append({ t: 'u', x: 2, k: 'c', v: '3', b: null }, { previousLsn: u[1] }));
    u.push(await append({ t: 'u', x: 2, k: 'd', v: '4', b: null }, { previousLsn: u[2] }));
    const r1 = await append({ t: 'r', x: 2, k: 'd', v: null }, { previousLsn: u[3], undoNextLsn: u[2] });
    await append({ t: 'r', x: 2, k: 'c', v: null }, { previousLsn: r1, undoNextLsn: u[1] });
    await area.flushToLsn();
    await log.close();

    const store = await openStore(dir);
    expect(store.recovery.losers).toEqual([2]);
    expect(store.recovery.compensated).toBe(2); // b and a only: c and d were compensated already
    expect(store.entries()).toEqual(new Map([['a', 'committed']]));
    await store.close();
    const again = await openStore(dir);
    expect(again.recovery.losers).toEqual([]);
    expect(again.entries()).toEqual(new Map([['a', 'committed']]));
  });

  it('a crash after a checkpoint: redo from the restart area, a transaction open across the checkpoint rolled back from before it', async () => {
    const dir = scratch.fresh();
    const store = await openStore(dir, { checkpointEvery: 0 });
    const across = store.begin();
    await across.put('x', 'before-checkpoint');
    const t = store.begin();
    await t.put('y', '1');
    await t.commit();
    await store.checkpoint();
    await across.put('z', 'after-checkpoint');
    const t2 = store.begin();
    await t2.put('y', '2');
    await t2.commit();
    const crashed = await crashImage(dir);
    expect(crashed.recovery.restartLsn).toBeDefined();
    expect(crashed.recovery.redone).toBe(2); // across's z and t2's y
    expect(crashed.recovery.losers).toEqual([across.id]);
    expect(crashed.entries()).toEqual(new Map([['y', '2']]));
  });

  it('strict 2PL, wait-die: an older transaction waits for a younger one holding its key; a younger one asking dies with ERR_KV_CONFLICT', async () => {
    const store = await openStore(scratch.fresh());
    const older = store.begin();
    const younger = store.begin();
    await older.put('held-by-older', 'o');
    await younger.put('k', 'young');
    expect(await code(younger.put('held-by-older', 'y'))).toBe('ERR_KV_CONFLICT');
    let got = false;
    const waiting = older.get('k').then((value) => {
      got = true;
      return value;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(got).toBe(false);
    await younger.commit();
    expect(await waiting).toBe('young');
    await older.put('k', 'old');
    await older.commit();
    expect(store.get('k')).toBe('old');
    expect(await code(older.put('k', 'again'))).toBe('ERR_KV_TXN_ENDED');
  });

  it('many transactions racing for a few keys: every committed increment counts once', async () => {
    const store = await openStore(scratch.fresh(), { checkpointEvery: 7 });
    let committed = 0;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; i < 15; i++) {
        for (;;) {
          const t = store.begin();
          try {
            const key = `c${(w + i) % 3}`;
            const value = Number((await t.get(key)) ?? '0');
            await t.put(key, String(value + 1));
            await t.commit();
            committed++;
            break;
          } catch (error) {
            if (!(error instanceof KvError && error.code === 'ERR_KV_CONFLICT')) throw error;
            await t.abort();
            await new Promise((resolve) => setImmediate(resolve)); // let the holder's I/O complete
          }
        }
      }
    };
    await Promise.all(Array.from({ length: 6 }, (_, w) => worker(w)));
    const sum = [...store.entries().values()].reduce((total, v) => total + Number(v), 0);
    expect(committed).toBe(90);
    expect(sum).toBe(90);
  });
});
