import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AnyRouter } from '@trpc/server';
import { CloseCode } from '@herald/shared';
import { WebSocketServer, type PerMessageDeflateOptions } from 'ws';
import type { ServerConfig } from '../config.js';
import type { ServerMetrics } from '../observability/metrics.js';
import type { CompressionOptions } from '../options.js';
import type { Admission } from '../transport/admission.js';
import { clientAddress } from '../transport/clientAddress.js';
import type { IdempotentCalls } from '../transport/idempotentCall.js';
import { Connection, type ConnectionConfig, type ConnectionSummary } from './connection.js';
import { HeartbeatMonitor } from './heartbeat.js';
import { UpgradeGate, writeRefusal } from './upgrade.js';
import { Wire } from './wire.js';

/**
 * Every WebSocket of one server: the upgrade checks (path, drain, origin,
 * connection counts), one `Connection` per socket (Herald's own
 * implementation of tRPC's wire protocol), one heartbeat timer for all of
 * them, drain and shutdown. Who a connection is comes from the transport
 * core's `Admission`, shared with the HTTP endpoint.
 */
export class ConnectionHandler<TRouter extends AnyRouter> {
  private readonly wss: WebSocketServer;
  private readonly gate: UpgradeGate;
  private readonly connections = new Set<Connection<TRouter>>();
  private readonly heartbeat: HeartbeatMonitor;
  private readonly idleWaiters = new Set<() => void>();
  private nextConnectionNumber = 0;
  /** Shared by every connection (see ConnectionConfig). */
  private readonly connectionConfig: ConnectionConfig<TRouter>;

  constructor(
    private readonly config: ServerConfig<TRouter>,
    core: { readonly admission: Admission; readonly idempotentCalls: IdempotentCalls; readonly metrics: ServerMetrics },
    isDraining: () => boolean,
  ) {
    const { limits } = config;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: limits.maxPayloadBytes,
      perMessageDeflate: deflateOptions(config.compression),
      clientTracking: false,
    });
    this.gate = new UpgradeGate({
      path: config.path,
      originAllowed: config.originAllowed,
      mayAuthenticate: (ip) => core.admission.mayAuthenticate(ip),
      maxConnections: limits.maxConnections,
      maxConnectionsPerIp: limits.maxConnectionsPerIp,
      isDraining,
    });
    this.heartbeat = new HeartbeatMonitor(config.heartbeat);
    this.connectionConfig = {
      router: config.router,
      wire: new Wire(config.router),
      admission: core.admission,
      idempotentCalls: core.idempotentCalls,
      onError: config.onError,
      limits: {
        maxSubscriptions: limits.maxSubscriptionsPerConnection,
        maxBatchSize: limits.maxBatchSize,
        maxBufferedBytes: limits.maxBufferedBytes,
        connectionParamsTimeoutMs: limits.connectionParamsTimeoutMs,
        rate: limits.rate,
        expiryGraceMs: config.auth.expiryGraceMs,
      },
      compression: config.compression,
      metrics: core.metrics,
      logger: config.logger,
      onAnswered: () => this.checkIdle(),
      onClosed: (closed) => {
        this.connections.delete(closed);
        this.heartbeat.delete(closed);
        this.checkIdle();
      },
    };
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Queries and mutations received on open sockets and not answered yet. */
  get unansweredCount(): number {
    let count = 0;
    for (const connection of this.connections) count += connection.unanswered;
    return count;
  }

  /** Admits or refuses an upgrade request (see `UpgradeGate`), then hands it to `ws`. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const ip = clientAddress(req, this.config.trustProxy);
    const refusal = this.gate.admit(req, socket, ip);
    if (refusal) {
      if (refusal.reason) {
        this.connectionConfig.metrics.refusal(refusal.reason);
        this.config.logger.debug({
          event: 'upgrade.refused',
          ip,
          reason: refusal.reason,
          status: refusal.answer.status,
          origin: req.headers.origin ?? null,
        });
      }
      writeRefusal(socket, refusal);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new Connection(ws, req, this.connectionConfig, { number: ++this.nextConnectionNumber, ip });
      this.connections.add(connection);
      this.heartbeat.add(connection);
    });
  }

  /** Ends the connections of the user `userKey` on this node with REVOKED; returns how many. */
  disconnectUser(userKey: string, reason: string): number {
    let count = 0;
    for (const connection of this.connections) {
      if (connection.userKey !== userKey) continue;
      connection.revoke(reason);
      count++;
    }
    return count;
  }

  /** The open connections `matches` accepts, at most `limit` (the admin page's lookup). */
  describeConnections(matches: (connectionId: string, userKey: string | null) => boolean, limit: number): ConnectionSummary[] {
    const found: ConnectionSummary[] = [];
    for (const connection of this.connections) {
      if (found.length >= limit) break;
      if (matches(connection.connectionId, connection.userKey)) found.push(connection.describe());
    }
    return found;
  }

  /** Tells every client to reconnect (tRPC's `reconnect` notification). */
  broadcastReconnect(): void {
    for (const connection of this.connections) connection.requestReconnect();
  }

  /**
   * Resolves once no query or mutation is waiting for its answer on any open
   * socket, or after `timeoutMs`. Subscriptions do not count: they never
   * finish on their own, and clients resume them on another connection.
   */
  async drain(timeoutMs: number): Promise<void> {
    if (this.unansweredCount === 0) return;
    let timer: NodeJS.Timeout | undefined;
    let waiter: (() => void) | undefined;
    await new Promise<void>((resolve) => {
      waiter = resolve;
      this.idleWaiters.add(resolve);
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
    if (waiter) this.idleWaiters.delete(waiter);
  }

  /**
   * Sends the reconnect notice, closes every socket with 1001, waits up to
   * `timeoutMs` for the close handshakes, then terminates what is left.
   */
  async close(timeoutMs: number): Promise<void> {
    this.broadcastReconnect();
    const connections = [...this.connections];
    const closed = connections.map(
      (connection) =>
        new Promise<void>((resolve) => {
          if (connection.socket.readyState === connection.socket.CLOSED) return resolve();
          connection.socket.once('close', () => resolve());
        }),
    );
    for (const connection of connections) connection.close(CloseCode.GOING_AWAY, 'server closing');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(closed),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    for (const connection of this.connections) connection.terminate(CloseCode.ABNORMAL_CLOSURE, 'close handshake timed out');
    await Promise.all(closed);
    this.heartbeat.stop();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private checkIdle(): void {
    if (this.idleWaiters.size === 0 || this.unansweredCount > 0) return;
    for (const waiter of [...this.idleWaiters]) waiter();
  }
}

/** ws's permessage-deflate settings for Herald's compression options. */
function deflateOptions(compression: Readonly<Required<CompressionOptions>> | null): PerMessageDeflateOptions | false {
  if (!compression) return false;
  return {
    threshold: compression.threshold,
    zlibDeflateOptions: { level: compression.level },
    serverNoContextTakeover: !compression.contextTakeover,
    clientNoContextTakeover: !compression.contextTakeover,
  };
}
