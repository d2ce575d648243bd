/**
 * Plain `ws` sockets that record every frame the server sends and how the
 * connection closed: for tests that write the wire protocol by hand.
 */
import { packMessage, unpackMessage } from '@herald/shared/internal';
import { WebSocket, type ClientOptions } from 'ws';

/** A raw `ws` socket that records every frame and how it closed. */
export interface RawSocket {
  readonly socket: WebSocket;
  /** Text frames, parsed as JSON where they are JSON (`PING` stays a string); binary frames decoded as MessagePack where they are. */
  readonly frames: unknown[];
  readonly opened: Promise<void>;
  /** Resolves with the close code and reason (1006 when the connection just dropped). */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the first frame (seen or to come) that `predicate` accepts. */
  frame<T = unknown>(predicate: (frame: unknown) => boolean, timeoutMs?: number, label?: string): Promise<T>;
  /** Sends `data` (JSON-encoded unless a string), once the socket is open. */
  send(data: unknown): void;
  /** Sends `data` as a MessagePack binary frame (bytes as `bin`), once the socket is open. */
  sendBinary(data: unknown): void;
  /** Drops the connection at once (no close handshake). */
  close(): void;
}

/** Opens a raw socket to `url`; with `params`, sends them as tRPC's `connectionParams` message once open. */
export function rawSocket(url: string, options: ClientOptions & { params?: Record<string, string> } = {}): RawSocket {
  const { params, ...clientOptions } = options;
  const socket = new WebSocket(params ? `${url}?connectionParams=1` : url, clientOptions);
  const frames: unknown[] = [];
  const waiters = new Set<() => void>();
  socket.on('error', () => undefined);
  socket.on('message', (data: Buffer, isBinary: boolean) => {
    let frame: unknown;
    if (isBinary) {
      try {
        frame = unpackMessage(data);
      } catch {
        frame = `<binary ${data.length}>`;
      }
    } else {
      const text = data.toString();
      frame = text;
      try {
        frame = JSON.parse(text);
      } catch {
        // not JSON: kept as text
      }
    }
    frames.push(frame);
    for (const waiter of [...waiters]) waiter();
  });
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => {
      if (params) socket.send(JSON.stringify({ method: 'connectionParams', data: params }));
      resolve();
    });
    socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with ${res.statusCode ?? '?'}`)));
    socket.once('close', () => reject(new Error('closed before it opened')));
  });
  opened.catch(() => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.once('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const waiter of [...waiters]) waiter();
    });
  });
  return {
    socket,
    frames,
    opened,
    closed,
    frame<T>(predicate: (frame: unknown) => boolean, timeoutMs = 5_000, label = 'a frame') {
      return new Promise<T>((resolve, reject) => {
        const check = () => {
          const found = frames.find(predicate);
          if (found !== undefined) {
            done();
            resolve(found as T);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${label} did not arrive within ${timeoutMs} ms (got ${JSON.stringify(frames).slice(0, 500)})`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    send(data) {
      const text = typeof data === 'string' ? data : JSON.stringify(data);
      if (socket.readyState === WebSocket.CONNECTING) opened.then(() => socket.send(text), () => undefined);
      else socket.send(text);
    },
    sendBinary(data) {
      const bytes = packMessage(data);
      if (socket.readyState === WebSocket.CONNECTING) opened.then(() => socket.send(bytes), () => undefined);
      else socket.send(bytes);
    },
    close() {
      socket.terminate();
    },
  };
}

/** A raw socket that has sent `connectionParams` with `token`; resolves once it is open. */
export async function rawAuthenticatedSocket(url: string, token: string): Promise<RawSocket> {
  const raw = rawSocket(url, { params: { token } });
  await raw.opened;
  return raw;
}
