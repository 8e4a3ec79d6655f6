// Use case of TruncateLog: a Raft follower whose log holds entries a new
// leader never had drops that conflicting suffix and appends the leader's
// entries (Raft's AppendEntries receiver, steps 3 and 4). After a crash
// the log holds exactly the leader's suffix, never a dropped entry.

import { describe, expect, it, onTestFinished } from 'vitest';

import { Log, type Lsn, type MarshallingArea } from '../../lib/index.ts';
import { makeArea, openCrashImage } from '../support/area.ts';

interface Entry {
  index: number;
  term: number;
  command: string;
}

const encode = (e: Entry): Uint8Array => new TextEncoder().encode(JSON.stringify(e));
const decode = (data: Uint8Array): Entry => JSON.parse(new TextDecoder().decode(data)) as Entry;

/** A follower's log: one record per entry, the LSN of each index kept in memory (rebuilt by a scan at open). */
class FollowerLog {
  readonly #area: MarshallingArea;
  readonly #entries: { entry: Entry; lsn: Lsn }[] = [];

  private constructor(area: MarshallingArea) {
    this.#area = area;
  }

  static async open(log: Log): Promise<FollowerLog> {
    const follower = new FollowerLog(await log.createMarshallingArea({ bufferSize: 16384, flushIntervalMs: 0 }));
    for await (const record of follower.#area.records()) {
      follower.#entries.push({ entry: decode(record.data), lsn: record.lsn });
    }
    return follower;
  }

  get entries(): Entry[] {
    return this.#entries.map((e) => e.entry);
  }

  /** AppendEntries: false when the log has no entry at prevIndex of prevTerm; else the entries are in, durably. */
  async appendEntries(prevIndex: number, prevTerm: number, entries: Entry[]): Promise<boolean> {
    if (prevIndex > 0 && this.#entries[prevIndex - 1]?.entry.term !== prevTerm) return false;
    let next = 0;
    for (; next < entries.length; next++) {
      const have = this.#entries[entries[next]!.index - 1];
      if (have === undefined) break;
      if (have.entry.term !== entries[next]!.term) {
        // A conflict: this entry and all that follow it go (Raft step 3).
        const keep = entries[next]!.index - 1;
        await this.#area.truncateLog(this.#entries[keep - 1]!.lsn);
        this.#entries.length = keep;
        break;
      }
    }
    const fresh = entries.slice(next);
    if (fresh.length > 0) {
      const lsns = await this.#area.appendBatch(fresh.map(encode), { forceFlush: true });
      fresh.forEach((entry, i) => this.#entries.push({ entry, lsn: lsns[i]! }));
    }
    return true;
  }
}

const entriesOf = (from: number, to: number, term: number, tag: string): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ index: from + i, term, command: `${tag}${from + i}` }));

describe('TruncateLog use case: a Raft follower', () => {
  it('TruncateLog: a follower drops a conflicting suffix, appends the leader entries, and a crash shows exactly them', async () => {
    const { log, path: logPath } = await makeArea();
    const follower = await FollowerLog.open(log);
    // Terms 1 and 2 from the old leaders: entries 1-5 (term 1) and 6-8 (term 2, never committed).
    expect(await follower.appendEntries(0, 0, entriesOf(1, 5, 1, 'a'))).toBe(true);
    expect(await follower.appendEntries(5, 1, entriesOf(6, 8, 2, 'b'))).toBe(true);
    // The term 3 leader's log matches up to 5, then has its own 6-9.
    const leader = [...entriesOf(1, 5, 1, 'a'), ...entriesOf(6, 9, 3, 'c')];
    expect(await follower.appendEntries(4, 1, leader.slice(4))).toBe(true);
    expect(follower.entries).toEqual(leader);

    const crashed = await FollowerLog.open(await openCrashImage(logPath));
    expect(crashed.entries).toEqual(leader);
    // The restarted follower goes on: the leader sends 10 (term 3) after 9.
    expect(await crashed.appendEntries(9, 3, entriesOf(10, 10, 3, 'c'))).toBe(true);
    expect(crashed.entries).toEqual([...leader, ...entriesOf(10, 10, 3, 'c')]);
  });

  it('TruncateLog: a mismatch at prevIndex is refused without truncating; a repeated message changes nothing', async () => {
    const { log, path: logPath } = await makeArea();
    const follower = await FollowerLog.open(log);
    await follower.appendEntries(0, 0, entriesOf(1, 6, 1, 'a'));
    expect(await follower.appendEntries(6, 2, entriesOf(7, 7, 2, 'x'))).toBe(false);
    await follower.appendEntries(3, 1, entriesOf(4, 6, 1, 'a'));
    expect(follower.entries).toEqual(entriesOf(1, 6, 1, 'a'));
    // Two conflicts in a row: the second truncates into what the first appended.
    await follower.appendEntries(2, 1, entriesOf(3, 7, 4, 'd'));
    await follower.appendEntries(4, 4, entriesOf(5, 5, 5, 'e'));
    const expected = [...entriesOf(1, 2, 1, 'a'), ...entriesOf(3, 4, 4, 'd'), ...entriesOf(5, 5, 5, 'e')];
    expect(follower.entries).toEqual(expected);
    expect((await FollowerLog.open(await openCrashImage(logPath))).entries).toEqual(expected);
    await log.close();
    const reopened = await Log.open(logPath);
    onTestFinished(() => reopened.close().catch(() => undefined));
    expect((await FollowerLog.open(reopened)).entries).toEqual(expected);
  });
});
