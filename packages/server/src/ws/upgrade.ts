import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { RefusalReason, UpgradeRefusal } from '../errors.js';
import type { OriginCheck } from '../transport/clientAddress.js';

export interface UpgradeGateSettings {
  /** The WebSocket path; upgrades elsewhere get 404. */
  readonly path: string;
  /** The `allowedOrigins` check, or null when every origin may connect. */
  readonly originAllowed: OriginCheck | null;
  /** False for an address that failed authentication too often (`auth.failedAttempts`). */
  readonly mayAuthenticate: (ip: string) => boolean;
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  readonly isDraining: () => boolean;
}

/** Why an upgrade was turned away, and the HTTP answer it gets. */
export interface Refusal {
  readonly answer: UpgradeRefusal;
  /** `null` for a wrong path, which is not a refusal worth counting. */
  readonly reason: RefusalReason | null;
  readonly message: string;
}

/**
 * The checks a WebSocket upgrade passes before `ws` sees it: path, drain,
 * origin, failed authentications, and the connection counts (in total and
 * per client address). An
 * admitted socket is counted until it closes, handshake included, so a burst
 * of simultaneous upgrades cannot slip past the limits.
 */
export class UpgradeGate {
  private total = 0;
  private readonly perIp = new Map<string, number>();

  constructor(private readonly settings: UpgradeGateSettings) {}

  /** Sockets admitted and not closed yet. */
  get count(): number {
    return this.total;
  }

  /** Checks an upgrade from `ip`; when it passes, counts `socket` until it closes and returns null. */
  admit(req: IncomingMessage, socket: Duplex, ip: string): Refusal | null {
    const { settings } = this;
    const path = (req.url ?? '').split('?')[0];
    if (path !== settings.path) {
      return { answer: UpgradeRefusal.NOT_FOUND, reason: null, message: `WebSocket connections upgrade on ${settings.path}` };
    }
    if (settings.isDraining()) {
      return { answer: UpgradeRefusal.SERVER_CLOSING, reason: RefusalReason.DRAINING, message: 'The server is shutting down; connect to another node' };
    }
    const origin = req.headers.origin;
    if (settings.originAllowed && origin !== undefined && !settings.originAllowed(origin, req)) {
      return {
        answer: UpgradeRefusal.FORBIDDEN_ORIGIN,
        reason: RefusalReason.ORIGIN,
        message: `Origin ${origin} may not connect; add it to the server's allowedOrigins`,
      };
    }
    if (!settings.mayAuthenticate(ip)) {
      return {
        answer: UpgradeRefusal.AUTH_FAILURES,
        reason: RefusalReason.AUTH_FAILURES,
        message: 'Too many failed authentications from this address; sign in again and retry later',
      };
    }
    if (this.total >= settings.maxConnections) {
      return {
        answer: UpgradeRefusal.MAX_CONNECTIONS,
        reason: RefusalReason.MAX_CONNECTIONS,
        message: 'The server holds as many connections as it may; retry later or connect to another node',
      };
    }
    const held = this.perIp.get(ip) ?? 0;
    if (held >= settings.maxConnectionsPerIp) {
      return {
        answer: UpgradeRefusal.MAX_CONNECTIONS_PER_IP,
        reason: RefusalReason.MAX_CONNECTIONS_PER_IP,
        message: `At most ${settings.maxConnectionsPerIp} connections per address; close one first`,
      };
    }
    this.total++;
    this.perIp.set(ip, held + 1);
    // `on`, not `once` (a socket closes once; `once` wraps the listener in two more objects).
    socket.on('close', () => {
      this.total--;
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, left);
    });
    return null;
  }
}

const STATUS_TEXT = { 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' } as const;

/** Answers a refused upgrade on the raw socket (no WebSocket exists yet) and closes it. */
export function writeRefusal(socket: Duplex, refusal: Refusal): void {
  const { status, error } = refusal.answer;
  const body = JSON.stringify({ error, message: refusal.message });
  const retry = status === 429 || status === 503 ? 'Retry-After: 1\r\n' : '';
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `${retry}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
