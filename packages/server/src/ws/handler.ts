import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AnyRouter } from '@trpc/server';
import { CloseCode } from '@herald/shared';
import { MSGPACK_PROTOCOL } from '@herald/shared/internal';
import { WebSocketServer, type PerMessageDeflateOptions } from 'ws';
import type { CallRunner } from '../calls/runner.js';
import type { ServerConfig } from '../config.js';
import { UpgradeRefusal } from '../errors.js';
import type { ServerMetrics } from '../observability/metrics.js';
import type { CompressionOptions } from '../options.js';
import { clientAddress } from '../transport/clientAddress.js';
import type { RequestGate } from '../transport/gate.js';
import { Connection, type ConnectionConfig, type ConnectionSummary } from './connection.js';
import type { LookupFields } from './summary.js';
import { HeartbeatMonitor } from './heartbeat.js';
import { UPGRADE_ANSWER } from './refusals.js';
import { HeraldWebSocket, wsSocket } from './socket.js';
import { writeUpgradeRefusal } from './upgrade.js';
import { BinaryWire } from './binaryWire.js';
import { Wire } from './wire.js';

/** What a WebSocket door runs on: the server's gate, call runner and metrics, and the path it upgrades on. */
export interface WebSocketDoor<TRouter extends AnyRouter> {
  readonly path: string;
  readonly gate: RequestGate;
  readonly runner: CallRunner<TRouter>;
  readonly metrics: ServerMetrics;
}

/**
 * The WebSocket door: upgrades at its path that the request gate lets in
 * (drain, origin, failed authentications, connection slots), one
 * `Connection` per socket (Herald's own implementation of tRPC's wire
 * protocol, over the same gate and call runner as every other door), one
 * heartbeat timer for all of them, drain and shutdown.
 */
export class ConnectionHandler<TRouter extends AnyRouter> {
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  private readonly heartbeat: HeartbeatMonitor;
  private readonly idleWaiters = new Set<() => void>();
  private nextConnectionNumber = 0;
  /** Shared by every connection (see ConnectionConfig). */
  private readonly connectionConfig: ConnectionConfig;
  private readonly path: string;
  private readonly gate: RequestGate;

  constructor(
    private readonly config: ServerConfig<TRouter>,
    door: WebSocketDoor<TRouter>,
  ) {
    const { limits } = config;
    this.path = door.path;
    this.gate = door.gate;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: limits.maxPayloadBytes,
      perMessageDeflate: deflateOptions(config.compression),
      clientTracking: false,
      handleProtocols: pickProtocol,
      WebSocket: HeraldWebSocket,
    });
    this.heartbeat = new HeartbeatMonitor(config.heartbeat);
    this.connectionConfig = {
      heartbeat: this.heartbeat,
      gate: door.gate,
      runner: door.runner,
      wire: new Wire(door.runner.router),
      binaryWire: new BinaryWire(door.runner.router),
      maxBufferedBytes: limits.maxBufferedBytes,
      connectionParamsTimeoutMs: limits.connectionParamsTimeoutMs,
      metrics: door.metrics,
      logger: config.logger,
      onAnswered: () => this.checkIdle(),
      onClosed: (closed) => {
        this.gate.closeConnection(closed.address);
        this.connections.delete(closed);
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

  /** Whether an upgrade request is for this door (its path). */
  serves(req: IncomingMessage): boolean {
    return (req.url ?? '').split('?')[0] === this.path;
  }

  /**
   * Admits or refuses an upgrade request, then hands it to `ws`. An admitted
   * socket holds its connection slot until it closes, handshake included, so
   * a burst of simultaneous upgrades cannot slip past the limits.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!this.serves(req)) {
      writeUpgradeRefusal(socket, UpgradeRefusal.NOT_FOUND, `WebSocket connections upgrade on ${this.path}`);
      return;
    }
    const address = clientAddress(req, this.config.trustProxy);
    const { gate } = this;
    const refusal = gate.enter(req, address) ?? gate.openConnection(address);
    if (refusal) {
      const answer = UPGRADE_ANSWER[refusal.reason] ?? UpgradeRefusal.MAX_CONNECTIONS;
      this.config.logger.debug({ event: 'upgrade.refused', ip: address, reason: refusal.reason, status: answer.status, origin: req.headers.origin ?? null });
      writeUpgradeRefusal(socket, answer, refusal.error.message);
      return;
    }
    // The slot is held through the handshake; once the socket is a connection, the connection gives it
    // back (`onClosed`), so no socket keeps a listener (and this scope, upgrade request included) for its life.
    const release = () => gate.closeConnection(address);
    socket.on('close', release);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off('close', release);
      // Made by `wss` with its `WebSocket` option.
      const connection = new Connection(wsSocket(ws as HeraldWebSocket, this.config.compression), req, this.connectionConfig, {
        number: ++this.nextConnectionNumber,
        address,
      });
      this.connections.add(connection);
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

  /** The open connections `matches` accepts, at most `limit` (the admin page's lookup); `displayNameOf` names their users. */
  describeConnections(matches: (fields: LookupFields) => boolean, limit: number, displayNameOf: (ctx: unknown) => string | null): ConnectionSummary[] {
    const found: ConnectionSummary[] = [];
    for (const connection of this.connections) {
      if (found.length >= limit) break;
      const displayName = connection.userKey === null ? null : displayNameOf(connection.ctx);
      if (matches({ connectionId: connection.connectionId, userKey: connection.userKey, displayName, topics: () => connection.topics })) {
        found.push(connection.describe(displayName));
      }
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
    const closed = connections.map((connection) => connection.whenClosed());
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

/**
 * The subprotocol of a new socket: MessagePack when the client offers it
 * (the connection then speaks it from its first frame), otherwise the first
 * one offered, as `ws` picks without this option.
 */
function pickProtocol(protocols: Set<string>): string | false {
  if (protocols.has(MSGPACK_PROTOCOL)) return MSGPACK_PROTOCOL;
  const first = protocols.values().next();
  return first.done === true ? false : first.value;
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
