/**
 * A load for the kv store, as a program: runs a plan of transactions with
 * several at once, and prints a line on stdout for each thing it knows for
 * sure, so a parent that kills it at any moment knows what was acknowledged.
 *
 *     node dist/examples/kv/load.js <store directory> <plan.json>
 *
 * The plan (JSON): `{ "workers": n, "checkpointEvery": n, "txns": [{ "ops": [[key, value | null]], "abort": bool }] }`.
 * Lines: `ready <json>` (the recovered committed state and recovery's report),
 * `checkpoint-start` and `checkpoint-end` around each checkpoint (the one that
 * recovery ends with too), `commit-call <tag>` before a commit is asked for, `commit <tag>` once it is
 * durable, `abort <tag>`, `done` when the plan is through. A tag is
 * `<index>.<attempt>`; the value a transaction writes is the plan's value
 * with `@<tag>` appended, so every value names its writer.
 * @module
 */
import { readFileSync } from 'node:fs';

import { ClfsError } from 'clfs';

import { openWhileLocked, run, say } from '../shared/log.ts';
import { KvError, KvStore } from './store.ts';

interface Plan {
  workers: number;
  checkpointEvery: number;
  txns: { ops: [string, string | null][]; abort: boolean }[];
}

/** Whether `error` means "abort and try again later": a wait-die conflict or a full log. */
function retryable(error: unknown): boolean {
  return (
    (error instanceof KvError && error.code === 'ERR_KV_CONFLICT') ||
    (error instanceof ClfsError && error.code === 'ERR_CLFS_LOG_FULL')
  );
}

async function main(): Promise<void> {
  const [dir, planFile] = process.argv.slice(2);
  if (dir === undefined || planFile === undefined) throw new Error('usage: load.js <store directory> <plan.json>');
  const plan = JSON.parse(readFileSync(planFile, 'utf8')) as Plan;
  const store = await openWhileLocked(() =>
    KvStore.open(dir, { checkpointEvery: plan.checkpointEvery, onCheckpoint: (phase) => say(`checkpoint-${phase}`) }),
  );
  say(
    `ready ${JSON.stringify({ entries: [...store.entries()], recovery: store.recovery }, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}` : v))}`,
  );
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < plan.txns.length; index = next++) {
      const spec = plan.txns[index]!;
      for (let attempt = 0; ; attempt++) {
        const tag = `${index}.${attempt}`;
        const txn = store.begin();
        try {
          for (const [key, value] of spec.ops) {
            if (value === null) await txn.delete(key);
            else await txn.put(key, `${value}@${tag}`);
          }
          if (spec.abort) {
            await txn.abort();
            say(`abort ${tag}`);
          } else {
            say(`commit-call ${tag}`);
            await txn.commit();
            say(`commit ${tag}`);
          }
          break;
        } catch (error) {
          if (!retryable(error)) throw error;
          await txn.abort();
          await new Promise((resolve) => setTimeout(resolve, attempt));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: plan.workers }, worker));
  say('done');
  await store.close();
}

run(main);
