import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AnyRouter } from '@trpc/server';
import { CloseCode, transformer } from '@herald/shared';
import type { Logger } from 'pino';
import { WebSocketServer, type PerMessageDeflateOptions } from 'ws';
import type { ServerMetrics } from '../observability/metrics.js';
import type { CompressionOptions, HeraldServerOptions } from '../options.js';
import { writeRefusal, type Admission } from './admission.js';
import { Connection, type ConnectionConfig, type ConnectionLimits, type UserSlots } from './connection.js';
import { HeartbeatMonitor } from './heartbeat.js';
import { Wire } from './wire.js';

export interface ConnectionHandlerConfig<TRouter extends AnyRouter> {
  readonly router: TRouter;
  readonly createContext: HeraldServerOptions<TRouter, unknown>['createContext'];
  readonly authenticate: HeraldServerOptions<TRouter, unknown>['authenticate'];
  /** The key a user counts under for `maxConnectionsPerUser`. */
  readonly userKey: (user: unknown) => string | null;
  readonly maxConnectionsPerUser: number;
  readonly onError: HeraldServerOptions<TRouter>['onError'];
  readonly pingIntervalMs: number;
  readonly pongTimeoutMs: number;
  readonly maxPayloadBytes: number;
  readonly limits: ConnectionLimits;
  /** permessage-deflate settings, or null for none. */
  readonly compression: Required<CompressionOptions> | null;
  readonly idempotency: ConnectionConfig<TRouter>['idempotency'];
  readonly admission: Admission;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
}

/**
 * Every WebSocket of one server: admission at the upgrade (path, drain,
 * origin, connection counts), one `Connection` per socket (Herald's own
 * implementation of tRPC's wire protocol), one heartbeat timer for all of
 * them, the per-user connection counts, drain and shutdown.
 */
export class ConnectionHandler<TRouter extends AnyRouter> {
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection<TRouter>>();
  private readonly heartbeat: HeartbeatMonitor;
  private readonly wire: Wire;
  private readonly users: UserSlots;
  private readonly idleWaiters = new Set<() => void>();
  private nextConnectionNumber = 0;
  /** Shared by every connection (see ConnectionConfig). */
  private readonly connectionConfig: ConnectionConfig<TRouter>;

  constructor(private readonly config: ConnectionHandlerConfig<TRouter>) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: config.maxPayloadBytes,
      perMessageDeflate: deflateOptions(config.compression),
      clientTracking: false,
    });
    this.heartbeat = new HeartbeatMonitor({ pingIntervalMs: config.pingIntervalMs, pongTimeoutMs: config.pongTimeoutMs });
    this.wire = new Wire(config.router);
    this.users = userSlots(config.userKey, config.maxConnectionsPerUser);
    this.connectionConfig = {
      router: config.router,
      wire: this.wire,
      // Channel data is serialized once with Herald's transformer; it can go
      // out unchanged only if the router speaks the same one.
      nativeChannels: this.wire.usesTransformer(transformer),
      createContext: config.createContext,
      authenticate: config.authenticate,
      onError: config.onError,
      limits: config.limits,
      compression: config.compression,
      users: this.users,
      metrics: config.metrics,
      logger: config.logger,
      idempotency: config.idempotency,
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
    for (const connection of this.connections) count += connection.unansweredCount;
    return count;
  }

  /** Admits or refuses an upgrade request (see `Admission`), then hands it to `ws`. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const admission = this.config.admission;
    const ip = admission.clientIp(req);
    const refusal = admission.admit(req, socket, ip);
    if (refusal) {
      if (refusal.reason) {
        this.config.metrics.refusal(refusal.reason);
        this.config.logger.debug({ event: 'upgrade.refused', ip, reason: refusal.reason, status: refusal.status, origin: req.headers.origin ?? null });
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
    for (const connection of this.connections) connection.terminate('close handshake timed out');
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
function deflateOptions(compression: Required<CompressionOptions> | null): PerMessageDeflateOptions | false {
  if (!compression) return false;
  return {
    threshold: compression.threshold,
    zlibDeflateOptions: { level: compression.level },
    serverNoContextTakeover: !compression.contextTakeover,
    clientNoContextTakeover: !compression.contextTakeover,
  };
}

/** Connections per user, counted under `keyOf(user)`. */
function userSlots(keyOf: (user: unknown) => string | null, max: number): UserSlots {
  const held = new Map<string, number>();
  return {
    keyOf,
    acquire(key) {
      const count = held.get(key) ?? 0;
      if (count >= max) return false;
      held.set(key, count + 1);
      return true;
    },
    release(key) {
      const left = (held.get(key) ?? 1) - 1;
      if (left <= 0) held.delete(key);
      else held.set(key, left);
    },
  };
}

/** The default `userKey`: a string user itself, else its `id` or `sub` when that is a string or number. */
export function defaultUserKey(user: unknown): string | null {
  if (typeof user === 'string') return user;
  if (typeof user !== 'object' || user === null) return null;
  const { id, sub } = user as { id?: unknown; sub?: unknown };
  for (const candidate of [id, sub]) {
    if (typeof candidate === 'string' || typeof candidate === 'number') return String(candidate);
  }
  return null;
}
