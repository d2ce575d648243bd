import { createConnection, type NetConnectOpts, type Socket } from 'node:net';
import { msgpackEncoder } from '@herald/shared';
import { JSON_PROTOCOL, MSGPACK_PROTOCOL } from '@herald/shared/internal';
import { WebSocket } from 'ws';
import { packedSentAtOf, sentAtOf, trackedIdOf } from '../lib/frames.js';
import { ECHO_INPUT, nowMs } from '../lib/payload.js';
import { LIVE_SUBSCRIPTION_PATH } from '../lib/protocol.js';
import { ECHO_PATH, QUERY_PATH, ROOM, SUBSCRIPTION_PATH, type RpcClient, type SubscriberClient, type SubscriberContext } from './types.js';

export interface ReconnectPolicy {
  /** First retry waits up to this long (full jitter), doubling per failed attempt... */
  readonly baseMs: number;
  /** ...up to this bound. */
  readonly capMs: number;
}

/** Counters the reconnect storm reads. */
export interface ReconnectStats {
  attempts: number;
  failed: number;
}

interface WireMessage {
  id?: unknown;
  method?: unknown;
  result?: { type?: unknown; id?: unknown; data?: { json?: { data?: { type?: unknown } } } };
  error?: unknown;
}

const SUBSCRIPTION_ID = 1;

/**
 * The cheapest client that speaks tRPC's WebSocket protocol, the same for
 * stock tRPC and Herald: one subscription (id 1) and queries (ids from 2).
 * Message frames are not parsed as JSON: their publish time is read from the
 * bytes (and, when resuming matters, the tracked id too). Other frames
 * (`started`, the `live` marker, answers, errors) are parsed.
 *
 * With `encoding: 'msgpack'` it offers `herald.msgpack` and speaks
 * MessagePack: requests packed with `msgpackEncoder`, message frames read
 * the same way (the publish time from the bytes), other frames unpacked.
 *
 * With a reconnect policy it behaves as a real client would after its socket
 * drops: it retries with full-jitter backoff and resubscribes with the last
 * tracked id it saw (`lastEventId`).
 */
export class TrpcWireClient implements SubscriberClient, RpcClient {
  private ws: WebSocket | null = null;
  private nextId = SUBSCRIPTION_ID + 1;
  private readonly calls = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  private subscribed = false;
  private live: { resolve: () => void; reject: (error: Error) => void } | null = null;
  private lastEventId: string | null = null;
  private closedByUs = false;
  private attempt = 0;
  /** Set by `armResume`: the time of the next live marker is reported to `onResumed`. */
  private resumePending = false;
  /** Whether the socket has dropped since `armResume` (a marker before that is not a resume). */
  private droppedSinceArm = false;
  /** Bytes read by the TCP sockets of earlier connections, and the current one. */
  private bytesReadBefore = 0;
  private tcp: Socket | null = null;
  /** The call's path and its input's JSON (`ping` with none, or the echo's), made once. */
  private readonly callPath: string;
  private readonly callInput: string;

  constructor(
    private readonly ctx: SubscriberContext,
    private readonly reconnect: { policy: ReconnectPolicy; stats: ReconnectStats; onResumed: (atMs: number) => void } | null = null,
  ) {
    const echo = ctx.rpcCall === 'echo';
    this.callPath = echo ? ECHO_PATH : QUERY_PATH;
    this.callInput = echo ? JSON.stringify(ECHO_INPUT) : 'null';
  }

  connect(): Promise<void> {
    const ws = this.open();
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('close', () => reject(new Error('closed before it opened')));
    });
  }

  subscribe(): Promise<void> {
    this.subscribed = true;
    return new Promise((resolve, reject) => {
      this.live = { resolve, reject };
      this.sendSubscription();
    });
  }

  call(): Promise<void> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const ws = this.ws;
      if (!ws || ws.readyState !== ws.OPEN) {
        reject(new Error('not connected'));
        return;
      }
      this.calls.set(id, { resolve, reject });
      if (this.binary) ws.send(msgpackEncoder.encode({ id, method: 'query', params: { path: this.callPath, input: { json: JSON.parse(this.callInput) as unknown } } }));
      else ws.send(`{"id":${id},"method":"query","params":{"path":"${this.callPath}","input":{"json":${this.callInput}}}}`);
    });
  }

  /** From now on, the next live marker after a reconnect counts as this client's resume. */
  armResume(): void {
    this.resumePending = true;
    this.droppedSinceArm = false;
  }

  bytesRead(): number {
    return this.bytesReadBefore + (this.tcp?.bytesRead ?? 0);
  }

  get resumed(): boolean {
    return !this.resumePending;
  }

  close(): Promise<void> {
    this.closedByUs = true;
    this.ws?.terminate();
    return Promise.resolve();
  }

  private get binary(): boolean {
    return this.ctx.encoding === 'msgpack';
  }

  private open(retry = false): WebSocket {
    if (this.tcp) this.bytesReadBefore += this.tcp.bytesRead;
    const ws = new WebSocket(this.ctx.url, this.binary ? [JSON_PROTOCOL, MSGPACK_PROTOCOL] : [], {
      perMessageDeflate: this.ctx.deflate === true,
      skipUTF8Validation: true,
      handshakeTimeout: 30_000,
      // The TCP socket, to count what crossed the wire.
      createConnection: ((options: NetConnectOpts) => (this.tcp = createConnection(options))) as typeof createConnection,
    });
    this.ws = ws;
    let opened = false;
    ws.on('message', (data, isBinary) => (isBinary ? this.onBinaryFrame(data as Buffer) : this.onFrame(data as Buffer)));
    ws.on('error', () => undefined);
    ws.on('open', () => {
      opened = true;
      if (!retry) return;
      this.attempt = 0;
      if (this.subscribed) this.sendSubscription();
    });
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      for (const call of this.calls.values()) call.reject(new Error('socket closed'));
      this.calls.clear();
      this.droppedSinceArm = true;
      if (retry && !opened && this.reconnect) this.reconnect.stats.failed++;
      if (this.reconnect && this.subscribed && !this.closedByUs) this.scheduleReconnect();
    });
    return ws;
  }

  private scheduleReconnect(): void {
    const { policy, stats } = this.reconnect!;
    const bound = Math.min(policy.capMs, policy.baseMs * 2 ** this.attempt);
    this.attempt++;
    setTimeout(() => {
      if (this.closedByUs) return;
      stats.attempts++;
      this.open(true);
    }, Math.random() * bound);
  }

  private sendSubscription(): void {
    if (this.binary) {
      const params = { path: SUBSCRIPTION_PATH, input: { json: { room: this.ctx.room ?? ROOM } }, ...(this.lastEventId === null ? {} : { lastEventId: this.lastEventId }) };
      this.ws?.send(msgpackEncoder.encode({ id: SUBSCRIPTION_ID, method: 'subscription', params }));
      return;
    }
    const resume = this.lastEventId === null ? '' : `,"lastEventId":${JSON.stringify(this.lastEventId)}`;
    this.ws?.send(
      `{"id":${SUBSCRIPTION_ID},"method":"subscription","params":{"path":"${this.ctx.live ? LIVE_SUBSCRIPTION_PATH : SUBSCRIPTION_PATH}","input":{"json":{"room":"${this.ctx.room ?? ROOM}"}}${resume}}}`,
    );
  }

  private onFrame(frame: Buffer): void {
    const sentAt = sentAtOf(frame);
    if (sentAt === sentAt) {
      if (this.reconnect) this.lastEventId = trackedIdOf(frame) ?? this.lastEventId;
      this.ctx.recorder.delivery(this.ctx.group, sentAt);
      return;
    }
    const text = frame.toString();
    if (text === 'PING') {
      this.ws?.send('PONG');
      return;
    }
    if (text === 'PONG') return;
    let message: WireMessage;
    try {
      message = JSON.parse(text) as WireMessage;
    } catch {
      this.ctx.recorder.error();
      return;
    }
    this.onMessage(message);
  }

  /** A MessagePack frame: a message's publish time read from its bytes, anything else unpacked. */
  private onBinaryFrame(frame: Buffer): void {
    const sentAt = packedSentAtOf(frame);
    if (sentAt === sentAt) {
      this.ctx.recorder.delivery(this.ctx.group, sentAt);
      return;
    }
    let message: WireMessage;
    try {
      message = msgpackEncoder.decode(frame) as WireMessage;
    } catch {
      this.ctx.recorder.error();
      return;
    }
    this.onMessage(message);
  }

  private onMessage(message: WireMessage): void {
    if (message.method === 'reconnect') {
      // The server asks clients to move: drop this socket, the reconnect policy takes over.
      this.ws?.close();
      return;
    }
    if (message.id === SUBSCRIPTION_ID) {
      this.onSubscriptionFrame(message);
      return;
    }
    const call = typeof message.id === 'number' ? this.calls.get(message.id) : undefined;
    if (!call) return;
    this.calls.delete(message.id as number);
    if (message.error) call.reject(new Error(JSON.stringify(message.error)));
    else call.resolve();
  }

  private onSubscriptionFrame(message: WireMessage): void {
    if (message.error) {
      this.ctx.recorder.error();
      this.live?.reject(new Error(JSON.stringify(message.error)));
      this.live = null;
      return;
    }
    const result = message.result;
    if (result?.type !== 'data') return;
    if (typeof result.id === 'string') this.lastEventId = result.id;
    // A channel is live at its `live` marker; a live query at its first result (one with no message yet, so read here).
    if (!this.ctx.live && result.data?.json?.data?.type !== 'live') return;
    this.live?.resolve();
    this.live = null;
    if (this.resumePending && this.droppedSinceArm) {
      this.resumePending = false;
      this.reconnect?.onResumed(nowMs());
    }
  }
}
