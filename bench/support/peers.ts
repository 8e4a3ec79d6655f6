/**
 * What Node users pick today for a durable append-only log, each behind one
 * `commit(record)`: a hand-made WAL on `fs.promises`, LevelDB
 * (`classic-level`) and SQLite (`better-sqlite3`).
 *
 * The two libraries are optional dev dependencies (through `bench/peers`,
 * see bench/README.md) loaded at run time: when one is missing or cannot be
 * loaded, the benchmark skips it and says why.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

import { packageRoot } from './results.ts';

export type PeerId = 'fs' | 'level' | 'sqlite';

export interface PeerStore {
  readonly id: PeerId;
  /** Short name for tables. */
  readonly label: string;
  /** What one commit is, in words. */
  readonly what: string;
  /** The package version (Node's for fs). */
  readonly version: string;
  /** Settings that matter for durability, for the JSON. */
  readonly details: Record<string, unknown>;
  /**
   * Whether concurrent committers can overlap. better-sqlite3 is synchronous:
   * each commit blocks the thread, so N "concurrent" committers run one after
   * another.
   */
  readonly concurrent: boolean;
  /** Appends `record` durably. */
  commit(record: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export type PeerAvailability =
  { id: PeerId; available: true; store: PeerStore } | { id: PeerId; available: false; reason: string };

/** Resolves packages as the bench/peers package would (its node_modules, then the root's). */
function peerRequire(): NodeJS.Require {
  return createRequire(path.join(packageRoot(), 'bench', 'peers', 'package.json'));
}

function loadPackage(name: string): { module: unknown; version: string } | { reason: string } {
  const req = peerRequire();
  let version = '?';
  try {
    version = (req(`${name}/package.json`) as { version: string }).version;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
      return {
        reason:
          `${name} is not installed. It is an optional dev dependency (bench/peers): npm leaves it out when it ` +
          `cannot build it. Run \`npm install\` to try again`,
      };
    }
  }
  try {
    return { module: req(name), version };
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { reason: `${name}@${version} is installed but cannot be loaded: ${message}` };
  }
}

/** The usual hand-made WAL: a file opened for appending, write() then datasync() per commit. */
async function openFsPeer(dir: string): Promise<PeerStore> {
  const file = path.join(dir, 'fs-wal.log');
  const handle = await open(file, 'a');
  return {
    id: 'fs',
    label: 'fs.promises',
    what: 'FileHandle.write(record) on a file opened with flags "a" (buffered, appending), then datasync()',
    version: process.version,
    details: { file, flags: 'a', sync: 'datasync() (fdatasync) after every write' },
    concurrent: true,
    async commit(record) {
      await handle.write(record);
      await handle.datasync();
    },
    close: () => handle.close(),
  };
}

/** The parts of classic-level used here. */
interface ClassicLevelDb {
  open(): Promise<void>;
  put(key: string, value: Uint8Array, options: { sync: boolean }): Promise<void>;
  close(): Promise<void>;
}
type ClassicLevelModule = {
  ClassicLevel: new (location: string, options: { keyEncoding: string; valueEncoding: string }) => ClassicLevelDb;
};

async function openLevelPeer(dir: string, module: unknown, version: string): Promise<PeerStore> {
  const { ClassicLevel } = module as ClassicLevelModule;
  const location = path.join(dir, 'leveldb');
  const db = new ClassicLevel(location, { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.open();
  // Keys in insertion order, as a log's would be; a prefix per run keeps them unique.
  const prefix = randomBytes(4).toString('hex');
  let sequence = 0;
  return {
    id: 'level',
    label: 'classic-level',
    what: 'db.put(key, record, { sync: true }) (LevelDB: its log written and fdatasync-ed before put resolves)',
    version,
    details: { location, put: '{ sync: true }', keys: 'ascending 16-digit sequence numbers' },
    concurrent: true,
    commit(record) {
      return db.put(`${prefix}${String(sequence++).padStart(16, '0')}`, record, { sync: true });
    },
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
  close(): void;
}
type SqliteModule = new (file: string) => SqliteDb;

async function openSqlitePeer(dir: string, module: unknown, version: string): Promise<PeerStore> {
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
  const sqliteVersion = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  return {
    id: 'sqlite',
    label: 'better-sqlite3',
    what: 'INSERT INTO log (data) VALUES (?) in its own transaction (autocommit), WAL mode, synchronous=FULL (fsync of the WAL per commit)',
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
    close: async () => db.close(),
  };
}

/**
 * Opens a store for every peer in `wanted` under `dir`; a library that is
 * missing or fails to load or open is reported unavailable with the reason.
 */
export async function openPeers(dir: string, wanted: ReadonlySet<PeerId>): Promise<Map<PeerId, PeerAvailability>> {
  const out = new Map<PeerId, PeerAvailability>();
  const attempt = async (id: PeerId, openIt: () => Promise<PeerStore>): Promise<void> => {
    try {
      out.set(id, { id, available: true, store: await openIt() });
    } catch (error) {
      const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
      out.set(id, { id, available: false, reason: `cannot open a store: ${message}` });
    }
  };
  if (wanted.has('fs')) await attempt('fs', () => openFsPeer(dir));
  for (const [id, name, openIt] of [
    ['level', 'classic-level', openLevelPeer],
    ['sqlite', 'better-sqlite3', openSqlitePeer],
  ] as const) {
    if (!wanted.has(id)) continue;
    const loaded = loadPackage(name);
    if ('reason' in loaded) out.set(id, { id, available: false, reason: loaded.reason });
    else await attempt(id, () => openIt(dir, loaded.module, loaded.version));
  }
  return out;
}
