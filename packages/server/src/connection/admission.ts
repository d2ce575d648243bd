import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { RefusalReason } from '../observability/metrics.js';

export interface AdmissionSettings {
  /** The WebSocket path; upgrades elsewhere get 404. */
  readonly path: string;
  readonly allowedOrigins: readonly string[] | ((origin: string) => boolean) | undefined;
  readonly trustProxy: boolean;
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  readonly isDraining: () => boolean;
}

/** Why an upgrade was turned away, and the HTTP answer it gets. */
export interface Refusal {
  readonly status: 403 | 404 | 429 | 503;
  /** `null` for a wrong path, which is not a refusal worth counting. */
  readonly reason: RefusalReason | null;
  readonly error: string;
  readonly message: string;
}

/**
 * The checks a WebSocket upgrade passes before `ws` sees it: path, drain,
 * origin, and the connection counts (in total and per client address). An
 * admitted socket is counted until it closes, handshake included, so a burst
 * of simultaneous upgrades cannot slip past the limits.
 */
export class Admission {
  private total = 0;
  private readonly perIp = new Map<string, number>();
  private readonly originAllowed: ((origin: string) => boolean) | null;

  constructor(private readonly settings: AdmissionSettings) {
    const allowed = settings.allowedOrigins;
    if (allowed === undefined) {
      this.originAllowed = null;
    } else if (typeof allowed === 'function') {
      this.originAllowed = allowed;
    } else {
      const set = new Set(allowed.map(normalizeOrigin));
      this.originAllowed = (origin) => set.has(normalizeOrigin(origin));
    }
  }

  /** Sockets admitted and not closed yet. */
  get count(): number {
    return this.total;
  }

  /** The client's address: the socket's, or with `trustProxy` the first `X-Forwarded-For` entry. */
  clientIp(req: IncomingMessage): string {
    if (this.settings.trustProxy) {
      const header = req.headers['x-forwarded-for'];
      const first = (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim();
      if (first) return first;
    }
    return req.socket.remoteAddress ?? 'unknown';
  }

  /** Checks an upgrade; when it passes, counts `socket` until it closes and returns null. */
  admit(req: IncomingMessage, socket: Duplex, ip: string): Refusal | null {
    const path = (req.url ?? '').split('?')[0];
    if (path !== this.settings.path) {
      return { status: 404, reason: null, error: 'NOT_FOUND', message: `WebSocket connections upgrade on ${this.settings.path}` };
    }
    if (this.settings.isDraining()) {
      return { status: 503, reason: RefusalReason.DRAINING, error: 'SERVER_CLOSING', message: 'The server is shutting down; connect to another node' };
    }
    const origin = req.headers.origin;
    if (this.originAllowed && origin !== undefined && !this.originAllowed(origin)) {
      return { status: 403, reason: RefusalReason.ORIGIN, error: 'FORBIDDEN_ORIGIN', message: `Origin ${origin} may not connect` };
    }
    if (this.total >= this.settings.maxConnections) {
      return { status: 503, reason: RefusalReason.MAX_CONNECTIONS, error: 'LIMIT_EXCEEDED', message: 'The server holds as many connections as it may' };
    }
    const held = this.perIp.get(ip) ?? 0;
    if (held >= this.settings.maxConnectionsPerIp) {
      return {
        status: 429,
        reason: RefusalReason.MAX_CONNECTIONS_PER_IP,
        error: 'LIMIT_EXCEEDED',
        message: `At most ${this.settings.maxConnectionsPerIp} connections per address`,
      };
    }
    this.total++;
    this.perIp.set(ip, held + 1);
    socket.once('close', () => {
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
  const body = JSON.stringify({ error: refusal.error, message: refusal.message });
  const retry = refusal.status === 429 || refusal.status === 503 ? 'Retry-After: 1\r\n' : '';
  socket.end(
    `HTTP/1.1 ${refusal.status} ${STATUS_TEXT[refusal.status]}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `${retry}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** Origins compare case-insensitively, without a trailing slash. */
function normalizeOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, '').toLowerCase();
}
