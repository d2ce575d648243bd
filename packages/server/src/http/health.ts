import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Herald } from '../herald.js';

export interface HealthSource {
  readonly startedAt: number;
  readonly herald: Herald | undefined;
  connectionCount(): number;
  /** Whether `/healthz` and `/readyz` are served (the `health` option). */
  readonly probes: boolean;
  /** True from the moment `close()` starts draining. */
  isClosing(): boolean;
  /** The Prometheus endpoint: its path and the exposition, or null for none. */
  readonly metrics?: { readonly path: string; render(): Promise<{ contentType: string; body: string }> } | null;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * `/healthz` answers whether the process is alive (always 200 while it runs);
 * `/readyz` whether it should get traffic: the broker accepts writes (a
 * Redis out of memory, read-only or with its cluster down answers 503, not
 * only one that is unreachable; `Broker.ping`), and the server is not
 * draining or closing. Load balancers route on the second, restart on the first.
 * `/metrics` (its path is configurable) is the Prometheus exposition.
 * Decides at once whether `req` is one of these: null when it is not (the
 * request is someone else's), else the answer being written.
 */
export function serveHealth(source: HealthSource, req: IncomingMessage, res: ServerResponse): Promise<void> | null {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return null;
  const base = () => ({
    nodeId: source.herald?.nodeId ?? null,
    uptimeMs: Date.now() - source.startedAt,
    connections: source.connectionCount(),
  });
  if (source.probes && path === '/healthz') {
    sendJson(res, 200, { status: 'ok', ...base() });
    return Promise.resolve();
  }
  const { metrics } = source;
  if (metrics && path === metrics.path) {
    return metrics.render().then(({ contentType, body }) => {
      res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  }
  if (source.probes && path === '/readyz') return answerReady(source, res, base());
  return null;
}

async function answerReady(source: HealthSource, res: ServerResponse, base: Record<string, unknown>): Promise<void> {
  if (source.isClosing()) {
    sendJson(res, 503, { status: 'draining', ...base });
    return;
  }
  const broker = source.herald?.broker;
  try {
    await broker?.ping();
    sendJson(res, 200, { status: 'ready', broker: broker?.kind ?? null, ...base });
  } catch (error) {
    sendJson(res, 503, { status: 'broker-unavailable', broker: broker?.kind ?? null, error: String(error), ...base });
  }
}
