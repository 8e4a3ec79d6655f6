// Every container of a log has the log's container size. A container file
// of another size was replaced or cut: Log.open says so (ERR_CLFS_CORRUPT,
// naming the file and both sizes) before recovery reads anything, instead of
// the damage surfacing wherever a read happens to look. The check is a stat
// per container, without opening it, so it stays cheap at 1024 containers;
// a container opened later (the storage keeps at most 8 open) is checked
// again when it is opened.
import { closeSync, ftruncateSync, mkdirSync, openSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { Log } from '../../lib/index.ts';
import { MemoryStorage, emptyImage } from '../../lib/storage/memory-storage.ts';
import { NativeStorage } from '../../lib/storage/native-storage.ts';
import { scratchFiles, KiB } from '../support/fixtures.ts';
import { BASE_FILE, containerFileName, createLog, rejectionOf, text } from '../support/log.ts';
import { seededBytes } from '../support/native.ts';
import { wineTimeout } from '../support/platform.ts';

const scratch = scratchFiles('clfs-files-size-');

const fresh = (): string => scratch.fresh();
const CONTAINER = 512 * KiB;

/** A closed log of three containers holding one record. */
async function closedLog(): Promise<string> {
  const logPath = fresh();
  const log = await createLog(logPath, { containerSize: CONTAINER, containers: 3 });
  const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
  await area.reserveAndAppend(text('hello'), { forceFlush: true });
  await log.close();
  return logPath;
}

describe('Log.open checks every container’s size', () => {
  it.each([
    [
      'replaced by seeded random bytes of another size (300 KiB)',
      (file: string) => writeFileSync(file, seededBytes(300 * KiB, 11)),
    ],
    ['cut short in the middle of a block', (file: string) => truncateSync(file, 5000)],
    ['grown by one sector', (file: string) => truncateSync(file, CONTAINER + 512)],
    ['emptied', (file: string) => truncateSync(file, 0)],
  ])(
    'Log.open: a container holding records %s is ERR_CLFS_CORRUPT at open, naming the file and both sizes',
    async (_name, damage) => {
      const logPath = await closedLog();
      const file = path.join(logPath, containerFileName(0));
      damage(file);
      const size = statSync(file).size;
      const error = await rejectionOf(Log.open(logPath));
      expect(error.code).toBe('ERR_CLFS_CORRUPT');
      expect(error.path).toBe(file);
      expect(error.message).toContain(`'${file}' is ${size} bytes`);
      expect(error.message).toContain(`${CONTAINER} bytes`);
      expect(statSync(file).size, 'the open wrote nothing').toBe(size);
    },
  );

  it('Log.open: a free container replaced by seeded random bytes of another size is ERR_CLFS_CORRUPT at open too', async () => {
    const logPath = await closedLog();
    const file = path.join(logPath, containerFileName(2));
    writeFileSync(file, seededBytes(CONTAINER - 4096, 12));
    const error = await rejectionOf(Log.open(logPath));
    expect(error.code).toBe('ERR_CLFS_CORRUPT');
    expect(error.path).toBe(file);
  });

  it('Log.open over a MemoryStorage: a container of another size is ERR_CLFS_CORRUPT at open, naming it and both sizes', async () => {
    const image = emptyImage();
    for (let i = 0; i < 2; i++) image.containers.push(new Uint8Array(CONTAINER));
    await Log.initializeStorage(new MemoryStorage(image), CONTAINER, 2, 0);
    image.containers[1] = new Uint8Array(CONTAINER / 2);
    const error = await rejectionOf(Log.openStorage('memory', new MemoryStorage(image), 'strict'));
    expect(error.code).toBe('ERR_CLFS_CORRUPT');
    expect(error.message).toContain(`container 1 (in memory) is ${CONTAINER / 2} bytes`);
    expect(error.message).toContain(`${CONTAINER} bytes`);
  });
});

describe('the check stays cheap, and is made again when a container is opened later', () => {
  /** A directory shaped like a log's, with an empty base file and `count` sparse containers of `size`. */
  function sparseLog(count: number, size: number): string {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(path.join(dir, BASE_FILE), new Uint8Array(8192));
    for (let i = 0; i < count; i++) {
      const fd = openSync(path.join(dir, containerFileName(i)), 'w');
      ftruncateSync(fd, size);
      closeSync(fd);
    }
    return dir;
  }

  const options = { durability: 'dsync', allowBuffered: true } as const;

  it('NativeStorage.checkContainers: 1024 containers are checked in well under a second, opening none of them', async () => {
    const dir = sparseLog(1024, CONTAINER);
    const storage = await NativeStorage.open(dir, options);
    try {
      storage.setContainerCount(1024);
      const started = performance.now();
      await storage.checkContainers(CONTAINER);
      const ms = performance.now() - started;
      // Wine's file calls are many times slower than Linux's.
      expect(ms, `${ms.toFixed(1)} ms for 1024 containers`).toBeLessThan(wineTimeout(1000, 20_000));
      expect(storage.stats.reads).toBe(0);
      truncateSync(path.join(dir, containerFileName(1023)), CONTAINER - 512);
      const error = await rejectionOf(storage.checkContainers(CONTAINER));
      expect(error.code).toBe('ERR_CLFS_CORRUPT');
      expect(error.path).toBe(path.join(dir, containerFileName(1023)));
    } finally {
      await storage.close();
    }
  });

  it('NativeStorage: a container replaced with a file of another size after the open-time check is ERR_CLFS_CORRUPT when it is opened, and nothing is read from it', async () => {
    const dir = sparseLog(3, CONTAINER);
    const storage = await NativeStorage.open(dir, options);
    try {
      storage.setContainerCount(3);
      await storage.checkContainers(CONTAINER);
      writeFileSync(path.join(dir, containerFileName(2)), seededBytes(64 * KiB, 13));
      const into = storage.allocate(4096);
      const error = await rejectionOf(storage.read(2, 0, into));
      expect(error.code).toBe('ERR_CLFS_CORRUPT');
      expect(error.path).toBe(path.join(dir, containerFileName(2)));
      expect(storage.stats.reads).toBe(0);
    } finally {
      await storage.close();
    }
  });
});
