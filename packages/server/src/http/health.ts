import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Herald } from '../herald.js';

export interface HealthSource {
  readonly startedAt: number;
  readonly herald: Herald | undefined;
  connectionCount(): number;
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
 */
export async function serveHealth(source: HealthSource, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const base = {
    nodeId: source.herald?.nodeId ?? null,
    uptimeMs: Date.now() - source.startedAt,
    connections: source.connectionCount(),
  };
  if (path === '/healthz') {
    sendJson(res, 200, { status: 'ok', ...base });
    return true;
  }
  if (source.metrics && path === source.metrics.path) {
    const { contentType, body } = await source.metrics.render();
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }
  if (path === '/readyz') {
    if (source.isClosing()) {
      sendJson(res, 503, { status: 'draining', ...base });
      return true;
    }
    const broker = source.herald?.broker;
    try {
      await broker?.ping();
      sendJson(res, 200, { status: 'ready', broker: broker?.kind ?? null, ...base });
    } catch (error) {
      sendJson(res, 503, { status: 'broker-unavailable', broker: broker?.kind ?? null, error: String(error), ...base });
    }
    return true;
  }
  return false;
}
