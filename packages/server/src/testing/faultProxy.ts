import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** Which way bytes travel through the proxy. */
export type FaultDirection = 'toServer' | 'toClient';

/** One whole RFC 6455 frame, as a `drop` predicate sees it. */
export interface FaultFrame {
  /** 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong. */
  readonly opcode: number;
  /** The FIN bit: `false` on every fragment of a fragmented message but the last. */
  readonly fin: boolean;
  /**
   * An unmasked copy of the payload; changing it does not change what is
   * forwarded. With permessage-deflate it is still compressed.
   */
  readonly payload: Buffer;
}

/** Returns `true` for frames to drop. */
export type FaultFramePredicate = (frame: FaultFrame) => boolean;

/** Where the fault proxy forwards to: the server under test. */
export interface FaultProxyTarget {
  /**
   * Host of the real server.
   * @default '127.0.0.1'
   */
  host?: string;
  /** Port of the real server. */
  port: number;
}

/** Options of `createFaultProxy`: the target, and where the proxy listens. */
export interface FaultProxyOptions {
  /** The server every accepted connection is forwarded to. */
  target: FaultProxyTarget;
  /**
   * Interface the proxy listens on. Loopback only, so a test never exposes it.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Port the proxy listens on; `0` picks a free one (see `proxy.port`).
   * @default 0
   */
  port?: number;
  /**
   * Largest frame payload, in bytes, the splitter accepts; a bigger declared
   * length destroys that pair (it is far more likely a desynchronised stream
   * than a real frame, and buffering it would eat the test's memory).
   * @default 67_108_864 (64 MiB)
   */
  maxFrameBytes?: number;
  /**
   * Gets problems the proxy detects itself: a `drop` predicate that threw, an
   * oversized frame or HTTP head. The pair involved is destroyed either way.
   * Socket errors are not reported: resets are what this proxy is for.
   * @default logs with `console.warn`
   */
  onError?: (error: Error) => void;
}

/** Counters for one direction, summed over every pair since the proxy started. */
export interface FaultDirectionStats {
  /** Whole WebSocket frames written to the other side. */
  readonly framesForwarded: number;
  /** Frames not forwarded: matched by `drop`, or arrived or fell due while stalled. */
  readonly framesDropped: number;
  /** Bytes thrown away: dropped frames, plus HTTP or non-WebSocket bytes that arrived while stalled. */
  readonly bytesDiscarded: number;
}

/** What the proxy forwarded and dropped so far, per direction. */
export interface FaultProxyStats {
  /** From clients to the server. */
  readonly toServer: FaultDirectionStats;
  /** From the server to clients. */
  readonly toClient: FaultDirectionStats;
}

/**
 * A TCP proxy between clients and a server that can cut, stall, refuse,
 * delay and drop WebSocket frames on command (docs/testing.md).
 */
export interface FaultProxy {
  /** The bound port (useful with `port: 0`). */
  readonly port: number;
  /** Open client<->server pairs (including ones whose server side is still connecting). */
  readonly connectionCount: number;
  /** A snapshot of the frame counters; lets a test wait until a fault has really happened. */
  readonly stats: FaultProxyStats;
  /** `ws://host:port<path>` for clients on this machine. */
  url(path?: string): string;
  /** Resets every open pair now (RST to both sides, as a network reset would). */
  cutAll(): void;
  /**
   * Resets each open pair with probability `fraction`, deciding with `random`
   * (pass a seeded one for reproducible runs). Returns how many were cut.
   */
  cutRandom(fraction: number, random?: () => number): number;
  /**
   * Half-open network: every current and future pair stays connected but no
   * byte, FIN or reset is passed on either way. Bytes that arrive meanwhile are
   * lost; loss is whole-frame once the handshake is done, so the WebSocket
   * stream is still well formed after `resume()`. Frames already delayed are
   * lost if they fall due while stalled.
   */
  stall(): void;
  /** Forwards again: new bytes, plus any FIN or reset held back while stalled. */
  resume(): void;
  /** Resets new TCP connections right after accept; existing pairs keep working. */
  refuse(): void;
  /** Undoes `refuse()`. */
  accept(): void;
  /**
   * Holds every WebSocket frame arriving in `direction` for `ms` before
   * forwarding it, keeping order; `0` turns it off. Applies to frames that
   * arrive after the call.
   */
  delay(direction: FaultDirection, ms: number): void;
  /**
   * Drops WebSocket frames in `direction` that `predicate` matches (and the
   * rest of a fragmented message whose first frame matched); `null` clears.
   * A predicate that throws destroys that pair and is reported to `onError`.
   */
  drop(direction: FaultDirection, predicate: FaultFramePredicate | null): void;
  /** Stops listening, destroys every pair, clears every timer; resolves once no socket is left open. */
  close(): Promise<void>;
}

/** The defaults of `FaultProxyOptions`, merged under the options passed. */
export const faultProxyDefaults = {
  targetHost: '127.0.0.1',
  host: '127.0.0.1',
  port: 0,
  maxFrameBytes: 64 * 1024 * 1024,
} as const;

// An HTTP head this big is not a WebSocket handshake; stop buffering it.
const MAX_HTTP_HEAD_BYTES = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const DIRECTIONS: readonly FaultDirection[] = ['toServer', 'toClient'];

interface MutableStats {
  framesForwarded: number;
  framesDropped: number;
  bytesDiscarded: number;
}

/** What every pair reads from the proxy: fault settings can change at any moment. */
interface Shared {
  stalled: boolean;
  readonly delayMs: Record<FaultDirection, number>;
  readonly drop: Record<FaultDirection, FaultFramePredicate | null>;
  readonly stats: Record<FaultDirection, MutableStats>;
  readonly maxFrameBytes: number;
  readonly timers: Set<ReturnType<typeof setTimeout>>;
  report(error: Error): void;
}

/** Chunks as they arrived; copies only when a frame straddles chunks. */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The first `n` bytes as one buffer; `n` must not exceed `length`. */
  peek(n: number): Buffer {
    return this.coalesce(n).subarray(0, n);
  }

  take(n: number): Buffer {
    const head = this.coalesce(n);
    if (head.length === n) this.chunks.shift();
    else this.chunks[0] = head.subarray(n);
    this.length -= n;
    return head.subarray(0, n);
  }

  clear(): number {
    const dropped = this.length;
    this.chunks = [];
    this.length = 0;
    return dropped;
  }

  private coalesce(n: number): Buffer {
    let count = 0;
    let size = 0;
    while (size < n) {
      size += this.chunks[count]!.length;
      count += 1;
    }
    if (count === 1) return this.chunks[0]!;
    const merged = Buffer.concat(this.chunks.slice(0, count), size);
    this.chunks.splice(0, count, merged);
    return merged;
  }
}

interface Pending {
  readonly data: Buffer;
  readonly due: number;
  readonly isFrame: boolean;
}

/** One direction of a pair: HTTP head pass-through, then the frame splitter, delay queue and drops. */
class Lane {
  private phase: 'http' | 'frames' | 'raw' = 'http';
  private head: Buffer = Buffer.alloc(0);
  private readonly bytes = new ByteQueue();
  // Header facts of the frame being assembled; -1 until its header is complete.
  private frameLength = -1;
  private headerLength = 0;
  // Set while buffered bytes include some that arrived during a stall.
  private tainted = false;
  private discardingMessage = false;
  private readonly queue: Pending[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private waitingDrain = false;
  sourceEnded = false;
  private endSent = false;

  constructor(
    private readonly direction: FaultDirection,
    private readonly source: Socket,
    private readonly dest: Socket,
    private readonly shared: Shared,
    private readonly pair: Pair,
  ) {}

  receive(chunk: Buffer): void {
    const stalled = this.shared.stalled;
    if (this.phase === 'http') this.receiveHead(chunk, stalled);
    else if (this.phase === 'raw') this.receiveRaw(chunk, stalled);
    else this.receiveFrames(chunk, stalled);
  }

  onSourceEnd(): void {
    this.sourceEnded = true;
    // A partial frame or head can never complete now.
    this.stats.bytesDiscarded += this.bytes.clear() + this.head.length;
    this.head = Buffer.alloc(0);
    this.maybeEnd();
  }

  /** Called on `resume()`: frames that fell due meanwhile were already discarded; pass on a held FIN. */
  wake(): void {
    this.flush();
  }

  dispose(): void {
    this.clearTimer();
    this.queue.length = 0;
    this.bytes.clear();
    this.head = Buffer.alloc(0);
  }

  private get stats(): MutableStats {
    return this.shared.stats[this.direction];
  }

  private receiveHead(chunk: Buffer, stalled: boolean): void {
    if (stalled) {
      // The handshake is lost with the dead network; the peer just never hears back.
      this.stats.bytesDiscarded += this.head.length + chunk.length;
      this.head = Buffer.alloc(0);
      return;
    }
    const buffered = this.head.length === 0 ? chunk : Buffer.concat([this.head, chunk]);
    const end = buffered.indexOf(HEAD_END);
    if (end === -1) {
      if (buffered.length > MAX_HTTP_HEAD_BYTES) {
        this.pair.abort(new Error(`Fault proxy: HTTP head ${this.direction} is over ${MAX_HTTP_HEAD_BYTES} bytes`));
        return;
      }
      this.head = buffered;
      return;
    }
    const headEnd = end + HEAD_END.length;
    const head = buffered.subarray(0, headEnd);
    this.head = Buffer.alloc(0);
    this.phase = isWebSocketHead(this.direction, head.toString('latin1')) ? 'frames' : 'raw';
    this.enqueue(head, 0, false);
    const rest = buffered.subarray(headEnd);
    if (rest.length === 0) return;
    if (this.phase === 'frames') this.receiveFrames(rest, stalled);
    else this.receiveRaw(rest, stalled);
  }

  private receiveRaw(chunk: Buffer, stalled: boolean): void {
    if (stalled) this.stats.bytesDiscarded += chunk.length;
    else this.enqueue(chunk, 0, false);
  }

  private receiveFrames(chunk: Buffer, stalled: boolean): void {
    if (stalled) this.tainted = true;
    this.bytes.push(chunk);
    while (!this.pair.destroyed) {
      if (this.frameLength < 0 && !this.readFrameHeader()) return;
      if (this.bytes.length < this.frameLength) return;
      const frame = this.bytes.take(this.frameLength);
      const headerLength = this.headerLength;
      const lost = this.tainted;
      this.frameLength = -1;
      // Whatever is left came in this same chunk.
      this.tainted = stalled && this.bytes.length > 0;
      this.onFrame(frame, headerLength, lost);
    }
  }

  /** Returns false while the header is still incomplete. */
  private readFrameHeader(): boolean {
    if (this.bytes.length < 2) return false;
    const start = this.bytes.peek(Math.min(this.bytes.length, 14));
    const second = start[1]!;
    const length7 = second & 0x7f;
    const masked = (second & 0x80) !== 0;
    const headerLength = 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) + (masked ? 4 : 0);
    if (start.length < headerLength) return false;
    let payloadLength: number;
    if (length7 === 126) {
      payloadLength = start.readUInt16BE(2);
    } else if (length7 === 127) {
      const big = start.readBigUInt64BE(2);
      payloadLength = big > BigInt(this.shared.maxFrameBytes) ? Number.POSITIVE_INFINITY : Number(big);
    } else {
      payloadLength = length7;
    }
    if (payloadLength > this.shared.maxFrameBytes) {
      this.pair.abort(
        new Error(
          `Fault proxy: a frame ${this.direction} declares ${length7 === 127 ? start.readBigUInt64BE(2) : payloadLength} payload bytes, ` +
            `over maxFrameBytes (${this.shared.maxFrameBytes}); destroyed the connection`,
        ),
      );
      return false;
    }
    this.headerLength = headerLength;
    this.frameLength = headerLength + payloadLength;
    return true;
  }

  private onFrame(frame: Buffer, headerLength: number, lost: boolean): void {
    const first = frame[0]!;
    const fin = (first & 0x80) !== 0;
    const opcode = first & 0x0f;
    const startsMessage = opcode === 1 || opcode === 2;
    if (startsMessage) this.discardingMessage = false;

    let discard = lost || (opcode === 0 && this.discardingMessage);
    if (!discard) {
      const predicate = this.shared.drop[this.direction];
      if (predicate) {
        try {
          discard = Boolean(predicate({ opcode, fin, payload: unmaskedPayload(frame, headerLength) }));
        } catch (error) {
          this.pair.abort(new Error(`Fault proxy: the drop predicate for ${this.direction} threw`, { cause: error }));
          return;
        }
      }
    }
    if (discard) {
      // Later fragments of a dropped message must go too, or the peer sees continuations with no start.
      if (startsMessage) this.discardingMessage = !fin;
      else if (opcode === 0 && fin) this.discardingMessage = false;
      this.stats.framesDropped += 1;
      this.stats.bytesDiscarded += frame.length;
      return;
    }
    this.enqueue(frame, this.shared.delayMs[this.direction], true);
  }

  private enqueue(data: Buffer, delayMs: number, isFrame: boolean): void {
    if (this.queue.length === 0 && delayMs <= 0) {
      this.write(data, isFrame);
      return;
    }
    // Head-of-line: a frame never overtakes an earlier one, even if the delay was lowered in between.
    this.queue.push({ data, due: performance.now() + delayMs, isFrame });
    this.flush();
  }

  private flush(): void {
    this.clearTimer();
    if (this.pair.destroyed) return;
    const now = performance.now();
    while (this.queue.length > 0 && this.queue[0]!.due <= now) {
      const next = this.queue.shift()!;
      this.write(next.data, next.isFrame);
    }
    const head = this.queue[0];
    if (!head) {
      this.maybeEnd();
      return;
    }
    // Timers can fire a little before performance.now() agrees they are due; ceil and re-check.
    const timer = setTimeout(() => {
      this.shared.timers.delete(timer);
      this.timer = null;
      this.flush();
    }, Math.max(1, Math.ceil(head.due - now)));
    this.timer = timer;
    this.shared.timers.add(timer);
  }

  private clearTimer(): void {
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.shared.timers.delete(this.timer);
    this.timer = null;
  }

  private write(data: Buffer, isFrame: boolean): void {
    if (this.shared.stalled || this.dest.destroyed || this.dest.writableEnded) {
      if (isFrame) this.stats.framesDropped += 1;
      this.stats.bytesDiscarded += data.length;
      return;
    }
    if (isFrame) this.stats.framesForwarded += 1;
    if (!this.dest.write(data) && !this.waitingDrain) {
      // Backpressure: without it a slow reader makes the proxy buffer without bound.
      this.waitingDrain = true;
      this.source.pause();
      this.dest.once('drain', () => {
        this.waitingDrain = false;
        if (!this.source.destroyed) this.source.resume();
      });
    }
  }

  private maybeEnd(): void {
    if (!this.sourceEnded || this.endSent || this.queue.length > 0 || this.shared.stalled || this.pair.destroyed) return;
    this.endSent = true;
    if (!this.dest.destroyed && !this.dest.writableEnded) this.dest.end();
  }
}

/** A client socket, its server socket, and the two lanes between them. */
class Pair {
  destroyed = false;
  private abortPending = false;
  private closedSockets = 0;
  private gone = false;
  private readonly lanes: readonly Lane[];

  constructor(
    private readonly client: Socket,
    private readonly server: Socket,
    private readonly shared: Shared,
    private readonly onGone: (pair: Pair) => void,
  ) {
    const toServer = new Lane('toServer', client, server, shared, this);
    const toClient = new Lane('toClient', server, client, shared, this);
    this.lanes = [toServer, toClient];
    this.wire(client, toServer);
    this.wire(server, toClient);
  }

  /** Destroys both sockets now; `reset` sends RST instead of FIN where the socket allows it. */
  destroy(reset = false): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const lane of this.lanes) lane.dispose();
    for (const socket of [this.client, this.server]) {
      if (reset) resetSocket(socket);
      else socket.destroy();
    }
    this.markGone();
  }

  /** The proxy itself gave up on this pair (bad stream, throwing predicate). */
  abort(error: Error): void {
    this.shared.report(error);
    this.destroy();
  }

  /** Held back while stalled: a reset on one side must not reach the other over a dead network. */
  wake(): void {
    if (this.destroyed) return;
    if (this.abortPending) {
      this.destroy();
      return;
    }
    for (const lane of this.lanes) lane.wake();
  }

  private wire(socket: Socket, outgoing: Lane): void {
    socket.on('error', () => this.fail(socket));
    socket.on('data', (chunk: Buffer) => {
      if (this.destroyed) return;
      try {
        outgoing.receive(chunk);
      } catch (error) {
        this.abort(new Error('Fault proxy: unexpected failure while forwarding', { cause: error }));
      }
    });
    socket.on('end', () => {
      if (!this.destroyed) outgoing.onSourceEnd();
    });
    socket.on('close', () => {
      // Closing without a FIN first means the peer reset or errored; the pair is finished.
      if (!this.destroyed && !outgoing.sourceEnded) this.fail(socket);
      this.closedSockets += 1;
      if (this.closedSockets === 2) this.markGone();
    });
  }

  private fail(socket: Socket): void {
    if (this.destroyed) return;
    if (this.shared.stalled) {
      socket.destroy();
      this.abortPending = true;
      return;
    }
    this.destroy();
  }

  private markGone(): void {
    if (this.gone) return;
    this.gone = true;
    this.onGone(this);
  }
}

/** Creates the proxy and resolves once it is listening. */
export async function createFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = options?.target;
  if (typeof target !== 'object' || target === null) {
    throw new TypeError('createFaultProxy: `target` is required, e.g. { host: "127.0.0.1", port: 8787 }');
  }
  const targetPort = target.port;
  if (!Number.isInteger(targetPort) || targetPort < 1 || targetPort > 65_535) {
    throw new RangeError(`createFaultProxy: target.port must be an integer from 1 to 65535, got ${String(targetPort)}`);
  }
  const targetHost = target.host ?? faultProxyDefaults.targetHost;
  const host = options.host ?? faultProxyDefaults.host;
  const listenPort = options.port ?? faultProxyDefaults.port;
  if (!Number.isInteger(listenPort) || listenPort < 0 || listenPort > 65_535) {
    throw new RangeError(`createFaultProxy: port must be an integer from 0 to 65535, got ${String(listenPort)}`);
  }
  const maxFrameBytes = options.maxFrameBytes ?? faultProxyDefaults.maxFrameBytes;
  if (!Number.isSafeInteger(maxFrameBytes) || maxFrameBytes < 0) {
    throw new RangeError(`createFaultProxy: maxFrameBytes must be a non-negative integer, got ${String(maxFrameBytes)}`);
  }
  const onError = options.onError ?? ((error: Error) => console.warn(error.message));

  const shared: Shared = {
    stalled: false,
    delayMs: { toServer: 0, toClient: 0 },
    drop: { toServer: null, toClient: null },
    stats: {
      toServer: { framesForwarded: 0, framesDropped: 0, bytesDiscarded: 0 },
      toClient: { framesForwarded: 0, framesDropped: 0, bytesDiscarded: 0 },
    },
    maxFrameBytes,
    timers: new Set(),
    report: (error) => {
      try {
        onError(error);
      } catch {
        // A throwing reporter must not take a socket handler down with it.
      }
    },
  };
  const pairs = new Set<Pair>();
  // Every socket not yet closed, so close() can wait for all of them.
  const sockets = new Set<Socket>();
  let refusing = false;
  let closing: Promise<void> | null = null;

  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    track(client);
    client.on('error', () => client.destroy());
    if (closing) {
      client.destroy();
      return;
    }
    if (refusing) {
      resetSocket(client);
      return;
    }
    client.setNoDelay(true);
    // allowHalfOpen on both sides: a FIN must wait until delayed frames ahead of it are out.
    const upstream = connect({ host: targetHost, port: targetPort, allowHalfOpen: true });
    upstream.setNoDelay(true);
    track(upstream);
    pairs.add(new Pair(client, upstream, shared, (pair) => pairs.delete(pair)));
  });

  await new Promise<void>((resolve, reject) => {
    const onListenError = (error: Error): void => {
      reject(new Error(`createFaultProxy: could not listen on ${host}:${listenPort}: ${error.message}`, { cause: error }));
    };
    server.once('error', onListenError);
    server.listen(listenPort, host, () => {
      server.off('error', onListenError);
      resolve();
    });
  });
  server.on('error', (error) => shared.report(new Error(`Fault proxy: server error: ${error.message}`, { cause: error })));
  const port = (server.address() as AddressInfo).port;

  const snapshot = (stats: MutableStats): FaultDirectionStats => ({ ...stats });

  return {
    port,
    get connectionCount() {
      return pairs.size;
    },
    get stats() {
      return { toServer: snapshot(shared.stats.toServer), toClient: snapshot(shared.stats.toClient) };
    },
    url(path = '/ws') {
      if (typeof path !== 'string' || !path.startsWith('/')) {
        throw new TypeError(`FaultProxy.url: path must start with "/", got ${JSON.stringify(path)}`);
      }
      return `ws://${urlHost(host)}:${port}${path}`;
    },
    cutAll() {
      for (const pair of [...pairs]) pair.destroy(true);
    },
    cutRandom(fraction, random = Math.random) {
      if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) {
        throw new RangeError(`FaultProxy.cutRandom: fraction must be a number from 0 to 1, got ${String(fraction)}`);
      }
      if (typeof random !== 'function') throw new TypeError('FaultProxy.cutRandom: random must be a function returning [0, 1)');
      let cut = 0;
      for (const pair of [...pairs]) {
        if (random() < fraction) {
          pair.destroy(true);
          cut += 1;
        }
      }
      return cut;
    },
    stall() {
      shared.stalled = true;
    },
    resume() {
      if (!shared.stalled) return;
      shared.stalled = false;
      for (const pair of [...pairs]) pair.wake();
    },
    refuse() {
      refusing = true;
    },
    accept() {
      refusing = false;
    },
    delay(direction, ms) {
      assertDirection('delay', direction);
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
        throw new RangeError(`FaultProxy.delay: ms must be a finite number >= 0, got ${String(ms)}`);
      }
      shared.delayMs[direction] = ms;
    },
    drop(direction, predicate) {
      assertDirection('drop', direction);
      if (predicate !== null && typeof predicate !== 'function') {
        throw new TypeError('FaultProxy.drop: predicate must be a function, or null to stop dropping');
      }
      shared.drop[direction] = predicate;
    },
    close() {
      closing ??= (async () => {
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        const socketsClosed = [...sockets].map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
        for (const pair of [...pairs]) pair.destroy();
        for (const socket of sockets) socket.destroy();
        for (const timer of shared.timers) clearTimeout(timer);
        shared.timers.clear();
        await Promise.all([serverClosed, ...socketsClosed]);
      })();
      return closing;
    },
  };
}

function assertDirection(method: string, direction: unknown): asserts direction is FaultDirection {
  if (!DIRECTIONS.includes(direction as FaultDirection)) {
    throw new TypeError(`FaultProxy.${method}: direction must be 'toServer' or 'toClient', got ${JSON.stringify(direction)}`);
  }
}

/** Whether the head just forwarded starts a WebSocket byte stream in this direction. */
function isWebSocketHead(direction: FaultDirection, head: string): boolean {
  if (direction === 'toClient') return /^HTTP\/1\.[01] 101 /.test(head);
  return /^upgrade:[ \t]*websocket[ \t]*$/im.test(head);
}

function unmaskedPayload(frame: Buffer, headerLength: number): Buffer {
  const payload = Buffer.from(frame.subarray(headerLength));
  if ((frame[1]! & 0x80) === 0) return payload;
  const key = frame.subarray(headerLength - 4, headerLength);
  for (let i = 0; i < payload.length; i += 1) payload[i] = payload[i]! ^ key[i & 3]!;
  return payload;
}

/** RST rather than FIN, like a real network failure; a socket still connecting has nothing to reset. */
function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting) {
    socket.destroy();
    return;
  }
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
