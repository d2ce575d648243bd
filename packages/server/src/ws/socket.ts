import { constants as zlib } from 'node:zlib';
import { WebSocket, type RawData } from 'ws';
import { beforeWrite, type WriteTicks } from './cork.js';
import type { PreparedFrame } from './preparedFrame.js';
import { binaryFrame, textFrame } from './preparedFrame.js';

/** What a socket reports to the connection on it. */
export interface SocketListener {
  onFrame(data: RawData, isBinary: boolean): void;
  onClose(code: number, reason: Buffer): void;
  /** A protocol violation (bad UTF-8, an oversized frame) or a transport error; the socket closes itself after. */
  onError(error: Error): void;
  /** The peer answered a WebSocket ping (`HeraldSocket.ping`). */
  onPong(): void;
}

/**
 * The socket a `Connection` speaks through: `ws` here (`WsSocket`), and
 * whatever another server or runtime gives, as an adapter of this shape.
 */
export interface HeraldSocket {
  /** Whether frames can be written now. */
  readonly isOpen: boolean;
  /** Bytes queued and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** The subprotocol the handshake agreed on ('' for none). */
  readonly protocol: string;
  /**
   * Writes a text frame of `byteLength` UTF-8 bytes. `followed`: more frames
   * for this socket come in the same tick, so they leave in one write.
   */
  sendText(text: string, byteLength: number, followed: boolean): void;
  /** Writes a binary frame (a MessagePack connection's messages); `followed` as for `sendText`. */
  sendBinary(bytes: Uint8Array, followed: boolean): void;
  /** Writes a frame built once for many sockets. */
  sendPrepared(frame: PreparedFrame): void;
  /**
   * Sends a WebSocket ping (RFC 6455 §5.5.2, a control frame): every client
   * answers it by itself, browsers included, with a pong (`onPong`).
   */
  ping(): void;
  close(code: number, reason: string): void;
  /** Drops the socket without a close handshake. */
  terminate(): void;
  /** Starts reporting to `listener` (once, right after the socket is made). */
  listen(listener: SocketListener): void;
}

/**
 * Writes finished frames to one socket. Each method returns false when the
 * frame must take `ws.send` instead: `ws`'s sender is busy (earlier messages
 * are still being compressed and must leave first; `ws.send` queues behind
 * them), or `ws` would compress this frame for this socket itself.
 */
export interface FrameWriter {
  /** A frame shared by many sockets. */
  prepared(frame: PreparedFrame): boolean;
  /** A frame for this socket only (an answer, a notice) of `byteLength` UTF-8 bytes: built and written in one piece. */
  text(text: string, byteLength: number): boolean;
  /** A binary frame for this socket only. */
  bytes(bytes: Uint8Array): boolean;
}

/**
 * The parts of `ws`'s internals a prepared frame needs: its sender (to write
 * a finished frame, and to see whether earlier messages are still queued
 * behind a compression), the negotiated extensions, and the net.Socket
 * (`_socket` since ws 1; `ws` exposes no cork of its own). Socket.IO's
 * engine.io writes its pre-encoded frames through the same `sendFrame`.
 */
interface WsInternals {
  readonly _sender?: {
    readonly _state?: unknown;
    readonly _queue?: unknown;
    sendFrame?: (list: Buffer[]) => void;
  } | null;
  readonly _extensions?: Record<string, { readonly params?: Record<string, unknown> } | undefined>;
  readonly _socket?: Parameters<typeof beforeWrite>[0];
}

/** `ws`'s sender state when nothing is being compressed or read ahead of the next frame. */
const SENDER_IDLE = 0;

type Sender = Required<NonNullable<WsInternals['_sender']>> & { readonly _queue: unknown[] };

/** Send options of the frames `ws.send` writes (one shared object each, not one per send): JSON text, or MessagePack. */
/**
 * `ws`'s WebSocket, its events handed straight to the Herald listener: `ws`
 * reports a socket's frames, pongs, errors and close through `emit`, and
 * listeners registered with `on` would give every socket a listener table
 * of its own (a dictionary that grows with each event name, about 250 bytes
 * a socket). The server makes its sockets of this class (`WebSocketServer`'s
 * `WebSocket` option). Once a listener is set, those four events go to it
 * alone (so `ws`'s reports of protocol violations, bad UTF-8 or an
 * oversized frame, after which it closes the socket itself, never throw for
 * want of an `error` listener); every other event goes through
 * `EventEmitter` as usual.
 */
export class HeraldWebSocket extends WebSocket {
  declare heraldListener: SocketListener | undefined;

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    const listener = this.heraldListener;
    if (listener === undefined) return super.emit(event, ...args);
    switch (event) {
      case 'message':
        listener.onFrame(args[0] as RawData, args[1] as boolean);
        return true;
      case 'pong':
        listener.onPong();
        return true;
      case 'close':
        listener.onClose(args[0] as number, args[1] as Buffer);
        return true;
      case 'error':
        listener.onError(args[0] as Error);
        return true;
      default:
        return super.emit(event, ...args);
    }
  }
}

/** A ping control frame with no payload (FIN, opcode 9, length 0), written as it is to every socket. */
const PING_CONTROL_FRAME = Buffer.from([0x89, 0x00]);

const TEXT_FRAME = { binary: false } as const;
const BINARY_FRAME = { binary: true } as const;

/**
 * A `ws` WebSocket as a `HeraldSocket`. Frames `ws` would not compress (no
 * permessage-deflate, or under the threshold) are written as they are, and
 * with no context takeover a prepared frame's compressed form is shared too;
 * anything else, or `ws` internals of an unexpected shape, goes through
 * `ws.send`. One object per connection (memory per connection is a target).
 */
export class WsSocket implements HeraldSocket, FrameWriter, WriteTicks {
  lastWriteTick = 0;

  constructor(
    private readonly socket: HeraldWebSocket,
    /** `ws`'s sender, or null when its internals are not the expected shape (then every frame takes `ws.send`). */
    private readonly sender: Sender | null,
    /** Payloads from this size on are compressed on this socket (by us when shared, else by `ws`). */
    private readonly compressFrom: number,
    /** The window size to share compressed frames with, or 0 when this socket cannot take them. */
    private readonly sharedWindowBits: number,
    private readonly level: number,
  ) {}

  get isOpen(): boolean {
    return this.socket.readyState === this.socket.OPEN;
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  get protocol(): string {
    return this.socket.protocol;
  }

  sendText(text: string, byteLength: number, followed: boolean): void {
    this.cork(followed);
    if (!this.text(text, byteLength)) this.socket.send(text, TEXT_FRAME);
  }

  sendBinary(bytes: Uint8Array, followed: boolean): void {
    this.cork(followed);
    if (!this.bytes(bytes)) this.socket.send(bytes, BINARY_FRAME);
  }

  sendPrepared(frame: PreparedFrame): void {
    this.cork(false);
    if (!this.prepared(frame)) this.socket.send(frame.payload, frame.binary ? BINARY_FRAME : TEXT_FRAME);
  }

  ping(): void {
    this.cork(false);
    if (!this.write(PING_CONTROL_FRAME)) this.socket.ping();
  }

  close(code: number, reason: string): void {
    const { socket } = this;
    if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(code, reason);
  }

  terminate(): void {
    this.socket.terminate();
  }

  /** Hands the socket's events to `listener` (see `HeraldWebSocket`). */
  listen(listener: SocketListener): void {
    this.socket.heraldListener = listener;
  }

  prepared(frame: PreparedFrame): boolean {
    if (frame.payload.length < this.compressFrom) return this.write(frame.plainFrame());
    return this.sharedWindowBits > 0 && this.write(frame.deflatedFrame(this.sharedWindowBits, this.level));
  }

  text(text: string, byteLength: number): boolean {
    return byteLength < this.compressFrom && this.write(textFrame(text, byteLength));
  }

  bytes(bytes: Uint8Array): boolean {
    return bytes.length < this.compressFrom && this.write(binaryFrame(bytes));
  }

  private write(frame: Buffer): boolean {
    const sender = this.sender;
    if (sender === null || sender._state !== SENDER_IDLE || sender._queue.length > 0) return false;
    sender.sendFrame([frame]);
    return true;
  }

  /** Batches the tick's writes (see `beforeWrite`). */
  private cork(followed: boolean): void {
    const raw = (this.socket as unknown as WsInternals)._socket;
    if (raw) beforeWrite(raw, this, followed);
  }
}

/**
 * `socket` as a `HeraldSocket`, its write path decided once from what its
 * handshake negotiated. Without context takeover every message is
 * compressed on its own, so one compressed frame fits every such peer;
 * zlib makes raw deflate's 8-bit window a 9-bit one, which a peer that
 * asked for 8 cannot inflate.
 */
export function wsSocket(socket: HeraldWebSocket, compression: { readonly threshold: number; readonly level: number } | null): WsSocket {
  const internals = socket as unknown as WsInternals;
  const sender = internals._sender;
  const level = compression?.level ?? zlib.Z_DEFAULT_COMPRESSION;
  if (!sender || typeof sender.sendFrame !== 'function' || sender._state !== SENDER_IDLE || !Array.isArray(sender._queue)) {
    return new WsSocket(socket, null, Number.POSITIVE_INFINITY, 0, level);
  }
  const deflate = internals._extensions?.['permessage-deflate'];
  const params = deflate?.params ?? {};
  const windowBits = typeof params.server_max_window_bits === 'number' ? params.server_max_window_bits : zlib.Z_DEFAULT_WINDOWBITS;
  const shareCompressed = deflate !== undefined && compression !== null && params.server_no_context_takeover === true && windowBits >= 9;
  return new WsSocket(
    socket,
    sender as Sender,
    deflate ? (compression?.threshold ?? 0) : Number.POSITIVE_INFINITY,
    shareCompressed ? windowBits : 0,
    level,
  );
}
