import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AnyRouter } from '@trpc/server';
import { getWSConnectionHandler, type WSSHandlerOptions } from '@trpc/server/adapters/ws';
import { CloseCode } from '@herald/shared';
import { WebSocketServer, type WebSocket } from 'ws';
import type { HeraldServerOptions } from '../options.js';

export interface WsHandlerConfig<TRouter extends AnyRouter> {
  readonly router: TRouter;
  readonly createContext: HeraldServerOptions<TRouter>['createContext'];
  readonly pingIntervalMs: number;
  readonly pongTimeoutMs: number;
  readonly maxPayloadBytes: number;
  readonly onError: HeraldServerOptions<TRouter>['onError'];
}

/**
 * Owns every WebSocket of one server: the upgrade, the tRPC wire protocol
 * (for now tRPC's own connection handler, given Herald's context, heartbeat
 * and frame-size settings), and shutdown.
 */
export class WsHandler<TRouter extends AnyRouter> {
  private readonly wss: WebSocketServer;
  private readonly onConnection: (client: WebSocket, req: IncomingMessage) => void;

  constructor(private readonly config: WsHandlerConfig<TRouter>) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: config.maxPayloadBytes,
      perMessageDeflate: false,
      clientTracking: true,
    });
    const handlerOptions = {
      wss: this.wss,
      router: config.router,
      createContext: ({ req, info }: { req: IncomingMessage; info: { connectionParams: Record<string, string> | null } }) =>
        config.createContext({ req, connectionParams: info.connectionParams }),
      keepAlive: { enabled: true, pingMs: config.pingIntervalMs, pongWaitMs: config.pongTimeoutMs },
      onError: config.onError
        ? ({ error, path, type }: { error: Error; path: string | undefined; type: string }) =>
            config.onError?.({ error, path, type })
        : undefined,
    } as unknown as WSSHandlerOptions<TRouter>;
    this.onConnection = getWSConnectionHandler(handlerOptions);
  }

  get connectionCount(): number {
    return this.wss.clients.size;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (client) => {
      this.onConnection(client, req);
    });
  }

  /** Tells every client to reconnect elsewhere (tRPC's `reconnect` notification). */
  broadcastReconnect(): void {
    const notice = JSON.stringify({ id: null, method: 'reconnect' });
    for (const client of this.wss.clients) {
      if (client.readyState === client.OPEN) client.send(notice);
    }
  }

  /**
   * Closes every socket with 1001 after the reconnect notice, waits up to
   * `timeoutMs` for the close handshakes, then terminates what is left.
   */
  async close(timeoutMs: number): Promise<void> {
    this.broadcastReconnect();
    const clients = [...this.wss.clients];
    const closed = clients.map(
      (client) =>
        new Promise<void>((resolve) => {
          if (client.readyState === client.CLOSED) return resolve();
          client.once('close', () => resolve());
        }),
    );
    for (const client of clients) client.close(CloseCode.GOING_AWAY, 'server closing');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(closed),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    for (const client of this.wss.clients) client.terminate();
    await Promise.all(closed);
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
