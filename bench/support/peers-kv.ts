/**
 * The database peers: classic-level (LevelDB), better-sqlite3 (SQLite, WAL)
 * and lmdb (LMDB), each opened so that a commit resolves only when durable.
 * @module
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';

import type { PeerStore } from './peers.ts';

/** The parts of classic-level used here. */
interface ClassicLevelDb {
  open(): Promise<void>;
  put(key: string, value: Uint8Array, options: { sync: boolean }): Promise<void>;
  batch(ops: { type: 'put'; key: string; value: Uint8Array }[], options: { sync: boolean }): Promise<void>;
  close(): Promise<void>;
}
type ClassicLevelModule = {
  ClassicLevel: new (location: string, options: { keyEncoding: string; valueEncoding: string }) => ClassicLevelDb;
};

export async function openLevelPeer(dir: string, module: unknown, version: string): Promise<PeerStore> {
  const { ClassicLevel } = module as ClassicLevelModule;
  const location = path.join(dir, 'leveldb');
  const db = new ClassicLevel(location, { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.open();
  // Keys in insertion order, as a log's would be; a prefix per run keeps them unique.
  const prefix = randomBytes(4).toString('hex');
  let sequence = 0;
  const key = (): string => `${prefix}${String(sequence++).padStart(16, '0')}`;
  return {
    id: 'level',
    label: 'classic-level',
    what: 'db.put(key, record, { sync: true }) (LevelDB: its log written and fdatasync-ed before put resolves)',
    whatBatch: 'db.batch(one put per record, { sync: true })',
    version,
    details: { location, put: '{ sync: true }', keys: 'ascending 16-digit sequence numbers' },
    concurrent: true,
    commit: (record) => db.put(key(), record, { sync: true }),
    commitBatch: (records) =>
      db.batch(
        records.map((value) => ({ type: 'put' as const, key: key(), value })),
        { sync: true },
      ),
    close: () => db.close(),
  };
}

/** The parts of better-sqlite3 used here. */
interface SqliteStatement {
  run(...params: unknown[]): unknown;
  get(...params: unknown[]): unknown;
}
interface SqliteDb {
  pragma(source: string, options?: { simple: boolean }): unknown;
  exec(source: string): void;
  prepare(source: string): SqliteStatement;
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
  close(): void;
}
type SqliteModule = new (file: string) => SqliteDb;

export async function openSqlitePeer(dir: string, module: unknown, version: string): Promise<PeerStore> {
  const Database = module as SqliteModule;
  const file = path.join(dir, 'sqlite.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  const journalMode = db.pragma('journal_mode', { simple: true });
  const synchronous = db.pragma('synchronous', { simple: true });
  if (journalMode !== 'wal' || synchronous !== 2) {
    db.close();
    throw new Error(
      `SQLite refused WAL / synchronous=FULL (journal_mode ${String(journalMode)}, synchronous ${String(synchronous)})`,
    );
  }
  db.exec('CREATE TABLE log (seq INTEGER PRIMARY KEY, data BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO log (data) VALUES (?)');
  const insertMany = db.transaction((records: readonly Uint8Array[]) => {
    for (const r of records) insert.run(r);
  });
  const sqliteVersion = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  return {
    id: 'sqlite',
    label: 'better-sqlite3',
    what: 'INSERT INTO log (data) VALUES (?) in its own transaction (autocommit), WAL mode, synchronous=FULL (a sync of the WAL per commit)',
    whatBatch: 'one INSERT per record inside one transaction (db.transaction), WAL, synchronous=FULL',
    version,
    details: {
      file,
      journalMode,
      synchronous: 'FULL',
      sqliteVersion,
      table: 'log (seq INTEGER PRIMARY KEY, data BLOB)',
    },
    concurrent: false,
    commit(record) {
      insert.run(record);
      return Promise.resolve();
    },
    commitBatch(records) {
      insertMany(records);
      return Promise.resolve();
    },
    close: async () => db.close(),
  };
}

/** The parts of lmdb-js used here. */
interface LmdbDb {
  put(key: number, value: Uint8Array): Promise<boolean> & { flushed?: Promise<boolean> };
  transaction(fn: () => void): Promise<unknown> & { flushed?: Promise<boolean> };
  readonly flushed: Promise<boolean>;
  close(): Promise<void>;
}
type LmdbModule = {
  open(options: { path: string; encoding: string; overlappingSync?: boolean; mapSize?: number }): LmdbDb;
};

/**
 * LMDB through lmdb-js, which batches concurrent async puts into one synced
 * transaction. `sync`: opened with `overlappingSync: false`, so a put resolves
 * when its transaction is durable. `flushed`: its default (overlapping sync on
 * Linux), each put awaited then its `flushed` promise (durable).
 */
export async function openLmdbPeer(
  dir: string,
  module: unknown,
  version: string,
  variant: 'sync' | 'flushed',
): Promise<PeerStore> {
  const { open } = module as LmdbModule;
  const location = path.join(dir, `lmdb-${variant}`);
  const db = open({
    path: location,
    encoding: 'binary',
    ...(variant === 'sync' ? { overlappingSync: false } : {}),
  });
  let sequence = 0;
  const durable = async (p: Promise<unknown> & { flushed?: Promise<boolean> }): Promise<void> => {
    await p;
    if (variant === 'flushed') await (p.flushed ?? db.flushed);
  };
  return {
    id: variant === 'sync' ? 'lmdb-sync' : 'lmdb-flushed',
    label: variant === 'sync' ? 'lmdb overlappingSync:false' : 'lmdb await put.flushed',
    what:
      variant === 'sync'
        ? 'await db.put(seq, record) on a db opened { overlappingSync: false } (put resolves when its transaction is synced)'
        : 'await db.put(seq, record), then await its .flushed (the default overlappingSync)',
    whatBatch:
      variant === 'sync'
        ? 'await db.transaction(() => one put per record), overlappingSync: false'
        : 'await db.transaction(() => one put per record), then its .flushed',
    version,
    details: {
      location,
      overlappingSync: variant === 'sync' ? false : 'default',
      encoding: 'binary',
      keys: 'ascending integers',
    },
    concurrent: true,
    commit: (record) => durable(db.put(sequence++, record)),
    commitBatch: (records) =>
      durable(
        db.transaction(() => {
          for (const r of records) void db.put(sequence++, r);
        }),
      ),
    close: () => db.close(),
  };
}
