import type { ServerResponse } from 'node:http';

/**
 * What keeps a client that does not read from holding the server's memory:
 * an answer it does not take in time, or a stream it falls behind on, is
 * dropped (the connection destroyed, its buffers freed).
 */

/**
 * Drops a response whose client does not take it: from the moment the
 * answer starts to be written, it has `timeoutMs` to be handed to the
 * network in full (a client that stopped reading leaves it queued in
 * memory, and the writer waiting on it), else the connection is destroyed
 * and `refused` is told. Call before anything is written.
 */
export function dropUnlessTaken(res: ServerResponse, timeoutMs: number, refused: () => void): void {
  let timer: NodeJS.Timeout | null = null;
  const arm = (): void => {
    if (timer !== null || res.writableFinished || res.destroyed) return;
    timer = setTimeout(() => {
      refused();
      res.destroy();
    }, timeoutMs);
    timer.unref();
  };
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.write = ((...args: unknown[]) => {
    arm();
    return write(...args);
  }) as ServerResponse['write'];
  res.end = ((...args: unknown[]) => {
    arm();
    return end(...args);
  }) as ServerResponse['end'];
  const disarm = (): void => {
    if (timer !== null) clearTimeout(timer);
  };
  res.once('finish', disarm);
  onClose(res, disarm);
}

/**
 * Drops an event stream whose client falls behind: past `maxBufferedBytes`
 * queued for it, the connection is destroyed (its EventSource reconnects
 * and resumes from `Last-Event-ID`) and `refused` is told.
 */
export function boundWrites(res: ServerResponse, maxBufferedBytes: number, refused: () => void): void {
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  res.write = ((...args: unknown[]) => {
    const written = write(...args);
    if (!written && res.writableLength > maxBufferedBytes && !res.destroyed) {
      refused();
      res.destroy();
    }
    return written;
  }) as ServerResponse['write'];
}

/** Runs `then` when the response closes (a finished response, or a client that left), or at once when it has. */
export function onClose(res: ServerResponse, then: () => void): void {
  if (res.closed) then();
  else res.once('close', then);
}
