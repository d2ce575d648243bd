import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TlsOptions } from 'node:tls';

export interface ListenerSettings {
  /** Serve HTTPS (and so `wss://`) with these; plain HTTP without. */
  readonly tls: TlsOptions | undefined;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
}

/**
 * The HTTP(S) server Herald listens with, with bounds on clients that
 * connect and stall: the request headers (a WebSocket upgrade is one) must
 * arrive within `headersTimeoutMs`, a whole request within
 * `requestTimeoutMs`, and with TLS the handshake within `headersTimeoutMs`.
 * Node enforces the first two on a timer (`connectionsCheckingInterval`,
 * 30 s by default), tightened here so a stalled socket goes soon after its
 * deadline.
 */
export function createListener(settings: ListenerSettings, handler: (req: IncomingMessage, res: ServerResponse) => void): Server {
  const headersTimeout = settings.headersTimeoutMs;
  const common = {
    headersTimeout,
    // Node refuses a request timeout shorter than the headers timeout.
    requestTimeout: Math.max(settings.requestTimeoutMs, headersTimeout),
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(headersTimeout / 4))),
  };
  if (settings.tls) return createHttpsServer({ ...settings.tls, ...common, handshakeTimeout: headersTimeout }, handler);
  return createServer(common, handler);
}
