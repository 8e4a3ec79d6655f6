/**
 * What Node users pick today for a durable append-only log, each behind one
 * `commit(record)` and one `commitBatch(records)`: a hand-made WAL on
 * `fs.promises`, LevelDB (`classic-level`), SQLite (`better-sqlite3`), LMDB
 * (`lmdb`, two ways of waiting for durability) and raw `O_DIRECT|O_DSYNC`
 * writes through `@ronomon/direct-io` (no log at all).
 *
 * The libraries are optional dev dependencies (through `bench/peers`, see
 * bench/README.md) loaded at run time: when one is missing or cannot be
 * loaded, the benchmark skips it and says why.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { openLevelPeer, openLmdbPeer, openSqlitePeer } from './peers-kv.ts';
import { openFsPeer, openRonomonPeer } from './peers-raw.ts';
import { packageRoot } from './results.ts';

export type PeerId = 'fs' | 'sqlite' | 'level' | 'lmdb-sync' | 'lmdb-flushed' | 'ronomon';

export const PEER_IDS: readonly PeerId[] = ['fs', 'sqlite', 'level', 'lmdb-sync', 'lmdb-flushed', 'ronomon'];

export interface PeerStore {
  readonly id: PeerId;
  /** Short name for tables. */
  readonly label: string;
  /** What one commit is, in words. */
  readonly what: string;
  /** What one batch commit is, in words. */
  readonly whatBatch: string;
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
  /** Appends `records` durably, as one transaction or write where the peer has one. */
  commitBatch(records: readonly Uint8Array[]): Promise<void>;
  close(): Promise<void>;
}

export type PeerAvailability =
  { id: PeerId; available: true; store: PeerStore } | { id: PeerId; available: false; reason: string };

/** Resolves packages as the bench/peers package would (its node_modules, then the root's). */
function peerRequire(): NodeJS.Require {
  return createRequire(path.join(packageRoot(), 'bench', 'peers', 'package.json'));
}

/** A package's version from the package.json above its entry point (some do not export ./package.json). */
function versionOf(req: NodeJS.Require, name: string): string {
  let dir = path.dirname(req.resolve(name));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      const json = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
      if (json.name === name) return json.version ?? '?';
    }
    const parent = path.dirname(dir);
    if (parent === dir) return '?';
    dir = parent;
  }
}

function loadPackage(name: string): { module: unknown; version: string } | { reason: string } {
  const req = peerRequire();
  try {
    req.resolve(name);
  } catch {
    return {
      reason:
        `${name} is not installed. It is an optional dev dependency (bench/peers): npm leaves it out when it ` +
        `cannot build it. Run \`npm install\` to try again`,
    };
  }
  const version = versionOf(req, name);
  try {
    return { module: req(name), version };
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { reason: `${name}@${version} is installed but cannot be loaded: ${message}` };
  }
}

type Opener = (dir: string, module: unknown, version: string) => Promise<PeerStore>;

const LIBRARIES: Record<Exclude<PeerId, 'fs'>, [string, Opener]> = {
  sqlite: ['better-sqlite3', openSqlitePeer],
  level: ['classic-level', openLevelPeer],
  'lmdb-sync': ['lmdb', (dir, m, v) => openLmdbPeer(dir, m, v, 'sync')],
  'lmdb-flushed': ['lmdb', (dir, m, v) => openLmdbPeer(dir, m, v, 'flushed')],
  ronomon: ['@ronomon/direct-io', (dir, m, v) => openRonomonPeer(dir, m, v)],
};

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
  for (const id of PEER_IDS) {
    if (!wanted.has(id)) continue;
    if (id === 'fs') {
      await attempt('fs', () => openFsPeer(dir));
      continue;
    }
    const [name, openIt] = LIBRARIES[id];
    const loaded = loadPackage(name);
    if ('reason' in loaded) out.set(id, { id, available: false, reason: loaded.reason });
    else await attempt(id, () => openIt(dir, loaded.module, loaded.version));
  }
  return out;
}
