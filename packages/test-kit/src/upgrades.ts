/**
 * WebSocket upgrades by hand, for tests of the checks a server makes before a
 * socket exists (origin, slots, draining, failed-authentication budgets): what
 * HTTP status the upgrade gets, 101 when it is accepted.
 */
import { WebSocket, type ClientOptions } from 'ws';
import { withTimeout } from './waits.js';

const DEFAULT_TIMEOUT_MS = 5_000;

/** `ws`'s client options (`origin`, `headers`...) and how long the answer may take. */
export interface UpgradeOptions extends ClientOptions {
  /** @default 5_000 */
  readonly timeoutMs?: number;
}

/** An upgrade's answer: its HTTP status (101: accepted) and the socket, open if it was accepted. */
export interface Upgrade {
  readonly status: number;
  readonly socket: WebSocket;
}

/**
 * Asks `url` for an upgrade and resolves with the status it answers, once
 * `ws` reports it (`open` or `unexpected-response`); rejects if the request
 * fails without an answer or none comes within `timeoutMs`. The caller
 * closes the socket (`terminate()`), which stays open if it was accepted.
 */
export async function upgrade(url: string, options: UpgradeOptions = {}): Promise<Upgrade> {
  const { timeoutMs = DEFAULT_TIMEOUT_MS, ...clientOptions } = options;
  const socket = new WebSocket(url, clientOptions);
  const answered = new Promise<number>((resolve, reject) => {
    socket.once('open', () => resolve(101));
    socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    socket.on('error', reject);
  });
  try {
    return { status: await withTimeout(answered, timeoutMs, `the upgrade at ${url}`), socket };
  } catch (error) {
    socket.terminate();
    throw error;
  }
}

/** The HTTP status an upgrade at `url` gets (101 when it is accepted); the socket is terminated once it is known. */
export async function upgradeStatus(url: string, options: UpgradeOptions = {}): Promise<number> {
  const { status, socket } = await upgrade(url, options);
  socket.terminate();
  return status;
}
