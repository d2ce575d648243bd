import { execFile } from 'node:child_process';
import { appendFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import { repoPath } from '@herald/test-kit';
import { fileStorage, QUARANTINE_DIR } from '../../src/persistence/file.js';
import { checkKeyValues } from '../helpers/keyValues.js';
import { tempDirectories } from '../helpers/tempDirectories.js';

/**
 * fileStorage's log (fileLog.ts, fileSegment.ts) on a real directory: what
 * one storage writes another reads, in the order the writes were made;
 * concurrent writes land together; a segment is compacted; a damaged record
 * is skipped and said; a full disk leaves nothing of a refused write; files
 * of the one-file-per-key layout are still read.
 * The crash and two-process cases run in real processes in
 * outboxChaos.test.ts.
 */
const tempDirectory = tempDirectories('herald-file-storage-');
const run = promisify(execFile);
const segments = async (directory: string) => (await readdir(join(directory, 'log'))).filter((name) => name.endsWith('.log'));

describe('fileStorage', () => {
  it('values by key in a log, read by every storage on the directory; locks shared by them', async () => {
    const directory = await tempDirectory();
    const storage = fileStorage({ directory });
    await checkKeyValues(storage);
    const other = fileStorage({ directory });
    expect(await other.get('outbox/b:é/?')).toBe('2');
    expect(await other.get('outbox/a')).toBeUndefined();
    // The other one read the key, so its removal comes after the write it read, whichever segment is read first.
    await other.delete('outbox/b:é/?');
    expect(await storage.keys('outbox/')).toEqual([]);
    await storage.set('outbox/b:é/?', '5');
    expect(await other.get('outbox/b:é/?')).toBe('5');
    expect(await fileStorage({ directory }).keys('outbox/')).toEqual(['outbox/b:é/?']);
    expect(await segments(directory)).toHaveLength(2); // both writers live: neither takes in the other's segment

    const release = await storage.tryLock('herald-outbox-owner/one');
    expect(release).not.toBeNull();
    expect(await other.tryLock('herald-outbox-owner/one')).toBeNull();
    await release!();
    const again = await other.tryLock('herald-outbox-owner/one');
    expect(again).not.toBeNull();
    await again!();
  });

  it('2,000 writes made at once: each resolves once durable, and a new storage reads every one', async () => {
    const directory = await tempDirectory();
    const storage = fileStorage({ directory });
    await Promise.all(Array.from({ length: 2_000 }, (_, n) => storage.set(`outbox/${n}`, String(n))));
    const keys = await fileStorage({ directory }).keys('outbox/');
    expect(keys).toHaveLength(2_000);
    expect(new Set(keys)).toEqual(new Set(Array.from({ length: 2_000 }, (_, n) => `outbox/${n}`)));
    // One segment, whose records are whole lines.
    const [segment, ...more] = await segments(directory);
    expect(more).toEqual([]);
    const text = await readFile(join(directory, 'log', segment!), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.split('\n').filter(Boolean)).toHaveLength(2_000);
  });

  it('a segment whose records mostly no longer count is compacted; a storage that read the old one reads the new one', async () => {
    const directory = await tempDirectory();
    const storage = fileStorage({ directory });
    const reader = fileStorage({ directory });
    await Promise.all(Array.from({ length: 3_000 }, (_, n) => storage.set(`outbox/${n}`, 'x'.repeat(100))));
    expect(await reader.keys('outbox/')).toHaveLength(3_000);
    const [before] = await segments(directory);
    const sizeBefore = (await stat(join(directory, 'log', before!))).size;
    for (let n = 0; n < 2_990; n += 10) await Promise.all(Array.from({ length: 10 }, (_, i) => storage.delete(`outbox/${n + i}`)));
    // A segment is checked each time its record count doubles (here near 6,000 records).
    for (let n = 0; n < 20; n++) await storage.set('outbox/after', 'y');
    // Compaction runs after the write that crossed the line resolved.
    await vi.waitFor(async () => expect(await segments(directory)).not.toEqual([before]));
    const [after, ...more] = await segments(directory);
    expect(more).toEqual([]);
    expect((await stat(join(directory, 'log', after!))).size).toBeLessThan(sizeBefore / 10);
    expect((await reader.keys('outbox/')).sort()).toEqual([...Array.from({ length: 10 }, (_, i) => `outbox/${2_990 + i}`), 'outbox/after'].sort());
    expect(await reader.get('outbox/after')).toBe('y');
    expect(await reader.get('outbox/5')).toBeUndefined();
  });

  it("the segment of a writer that is gone (its lock free) is taken in by the next storage: its values stay, its file goes, and once drained nothing is left", async () => {
    const directory = await tempDirectory();
    await mkdir(join(directory, 'log'));
    const gone = 'deadbeefdeadbeef';
    await writeFile(join(directory, 'log', `${gone}.0.log`), Array.from({ length: 1_500 }, (_, n) => `${JSON.stringify([n + 1, gone, `outbox/${n}`, String(n)])}\n`).join(''));
    const storage = fileStorage({ directory });
    expect(await storage.keys('outbox/')).toHaveLength(1_500);
    const [own, ...more] = await segments(directory);
    expect(more).toEqual([]);
    expect(own).not.toContain(gone);
    expect(await fileStorage({ directory }).get('outbox/7')).toBe('7');

    for (let n = 0; n < 1_500; n += 100) await Promise.all(Array.from({ length: 100 }, (_, i) => storage.delete(`outbox/${n + i}`)));
    expect(await fileStorage({ directory }).keys('outbox/')).toEqual([]);
    // 1,500 copies and 1,500 removals: compacted (after the last removal resolved) to nothing, as no other segment holds the keys any more.
    await vi.waitFor(async () => {
      const [compacted, ...others] = await segments(directory);
      expect(others).toEqual([]);
      expect((await stat(join(directory, 'log', compacted!))).size).toBe(0);
    });
  });

  it('a full disk (a file size limit) refuses the batch that crosses it: each of its writes rejects, none is left for a reader', { timeout: 60_000 }, async () => {
    const directory = await tempDirectory();
    // ulimit -f is in KiB: the segment may grow to 16 KiB (about 110 records of this size).
    const { stdout } = await run('bash', ['-c', 'ulimit -f 16 && exec "$0" --conditions=herald-source --import tsx "$1"', process.execPath, 'packages/client/test/helpers/fullDiskWriter.ts'], {
      cwd: repoPath(),
      env: { ...process.env, STORE_DIR: directory },
      timeout: 50_000,
    });
    const { resolved, rejected } = JSON.parse(stdout) as { resolved: string[]; rejected: { key: string; code: string }[] };
    expect(resolved.length).toBeGreaterThan(50);
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejected.every(({ code }) => code === 'EFBIG')).toBe(true);
    const unreadable: string[] = [];
    const reader = fileStorage({ directory, onUnreadable: (error) => unreadable.push(error.message) });
    expect(new Set(await reader.keys('outbox/'))).toEqual(new Set(resolved));
    expect(unreadable).toEqual([]);
    const [segment] = await segments(directory);
    expect((await readFile(join(directory, 'log', segment!), 'utf8')).endsWith('\n')).toBe(true); // cut back to its last whole record
  });

  it('a record cut short (a crash mid-write) is skipped and said; the records around it load', async () => {
    const directory = await tempDirectory();
    const writer = fileStorage({ directory });
    await writer.set('outbox/a', '1');
    const [segment] = await segments(directory);
    await appendFile(join(directory, 'log', segment!), '[3,"x","outbox/cut","abc');
    const unreadable: string[] = [];
    const reader = fileStorage({ directory, onUnreadable: (error) => unreadable.push(error.message) });
    // A line without its end may still be being written: it is not read yet.
    expect(await reader.keys('outbox/')).toEqual(['outbox/a']);
    expect(unreadable).toEqual([]);
    // A line after it ends it: a record that cannot be read, skipped.
    await appendFile(join(directory, 'log', segment!), '\n[9,"x","outbox/b","2"]\n');
    expect((await reader.keys('outbox/')).sort()).toEqual(['outbox/a', 'outbox/b']);
    expect(unreadable).toHaveLength(1);
    expect(unreadable[0]).toMatch(/1 record\(s\) of .*\.log cannot be read .* skipped/);
  });

  it('files of the one-file-per-key layout are read, hidden by a later write, removed, and moved aside when unreadable', async () => {
    const directory = await tempDirectory();
    await mkdir(join(directory, 'values'));
    const file = (key: string) => join(directory, 'values', `${encodeURIComponent(key)}.json`);
    await writeFile(file('outbox/old'), JSON.stringify({ k: 'outbox/old', v: 'kept' }));
    await writeFile(file('outbox/replaced'), JSON.stringify({ k: 'outbox/replaced', v: 'before' }));
    await writeFile(file('outbox/empty'), '');
    const storage = fileStorage({ directory });
    expect((await storage.keys('outbox/')).sort()).toEqual(['outbox/empty', 'outbox/old', 'outbox/replaced']);
    await storage.set('outbox/replaced', 'after');
    expect(await storage.get('outbox/replaced')).toBe('after');
    await expect(storage.get('outbox/empty')).rejects.toMatchObject({ code: 'HERALD_UNREADABLE_VALUE', reason: 'its file is empty' });
    expect(await storage.quarantine!('outbox/empty')).toContain(join(directory, QUARANTINE_DIR));
    await storage.delete('outbox/old');
    expect(await readdir(join(directory, 'values'))).toEqual([]);
    expect(await fileStorage({ directory }).keys('outbox/')).toEqual(['outbox/replaced']);
  });
});
