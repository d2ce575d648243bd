/**
 * Writes values into a fileStorage in batches of 10 until a write is refused,
 * then prints which writes resolved and which rejected (with their code), as
 * JSON. fileStorage.test.ts runs it under `ulimit -f` (a file size limit, as
 * a full disk is for the segment): the batch that crosses the limit is
 * partly written, then refused.
 */
import { fileStorage } from '@herald/client/file';

// Past the limit the kernel sends SIGXFSZ, which ends the process unless handled; handled, the write fails with EFBIG, as ENOSPC does on a full disk.
process.on('SIGXFSZ', () => undefined);

const directory = process.env['STORE_DIR']!;
const storage = fileStorage({ directory });
const resolved: string[] = [];
const rejected: { key: string; code: unknown }[] = [];
for (let round = 0; round < 100 && rejected.length === 0; round++) {
  await Promise.all(
    Array.from({ length: 10 }, async (_, i) => {
      const key = `outbox/${round * 10 + i}`;
      try {
        await storage.set(key, 'x'.repeat(100));
        resolved.push(key);
      } catch (error) {
        rejected.push({ key, code: (error as NodeJS.ErrnoException).code });
      }
    }),
  );
}
console.log(JSON.stringify({ resolved, rejected }));
