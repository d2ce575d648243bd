import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AnyRouter } from '@trpc/server';
import { CloseCode, transformer } from '@herald/shared';
import { WebSocketServer } from 'ws';
import type { HeraldServerOptions } from '../options.js';
import { Connection, type ConnectionConfig, type ConnectionLimits } from './connection.js';
import { HeartbeatMonitor } from './heartbeat.js';
import { Wire } from './wire.js';

export interface ConnectionHandlerConfig<TRouter extends AnyRouter> {
  readonly router: TRouter;
  readonly createContext: HeraldServerOptions<TRouter>['createContext'];
  readonly onError: HeraldServerOptions<TRouter>['onError'];
  readonly pingIntervalMs: number;
  readonly pongTimeoutMs: number;
  readonly maxPayloadBytes: number;
  readonly limits: ConnectionLimits;
  readonly idempotency: ConnectionConfig<TRouter>['idempotency'];
}

/**
 * Every WebSocket of one server: the upgrade, one `Connection` per socket
 * (Herald's own implementation of tRPC's wire protocol), one heartbeat timer
 * for all of them, and shutdown.
 */
export class ConnectionHandler<TRouter extends AnyRouter> {
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection<TRouter>>();
  private readonly heartbeat: HeartbeatMonitor;
  private readonly wire: Wire;

  constructor(private readonly config: ConnectionHandlerConfig<TRouter>) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: config.maxPayloadBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.heartbeat = new HeartbeatMonitor({ pingIntervalMs: config.pingIntervalMs, pongTimeoutMs: config.pongTimeoutMs });
    this.wire = new Wire(config.router);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new Connection(ws, req, {
        router: this.config.router,
        wire: this.wire,
        // Channel data is serialized once with Herald's transformer; it can go
        // out unchanged only if the router speaks the same one.
        nativeChannels: this.wire.usesTransformer(transformer),
        createContext: this.config.createContext,
        onError: this.config.onError,
        limits: this.config.limits,
        idempotency: this.config.idempotency,
        onClosed: (closed) => {
          this.connections.delete(closed);
          this.heartbeat.delete(closed);
        },
      });
      this.connections.add(connection);
      this.heartbeat.add(connection);
    });
  }

  /** Tells every client to reconnect (tRPC's `reconnect` notification). */
  broadcastReconnect(): void {
    for (const connection of this.connections) connection.requestReconnect();
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
    for (const connection of this.connections) connection.terminate();
    await Promise.all(closed);
    this.heartbeat.stop();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
