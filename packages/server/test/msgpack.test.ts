import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { initTRPC } from '@trpc/server';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { createHeraldClient, type HeraldClient } from '@herald/client';
import { msgpackEncoder, transformer } from '@herald/shared';
import { JSON_PROTOCOL, MSGPACK_PROTOCOL } from '@herald/shared/internal';
import { createFaultProxy } from '@herald/server/testing';
import {
  answerTo,
  Cleanup,
  CLIENT_KINDS,
  errorCodeOf,
  makeClient,
  rawSocket,
  request,
  resultOf,
  startHardeningServer,
  recordChannel,
  range,
  pollUntil,
  type HardeningRouter,
  type RawFrame,
} from '@herald/test-kit';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { z } from 'zod';
import { createHerald, createHeraldServer, heraldErrorFormatter } from '../src/index.js';

/**
 * The MessagePack encoding of the WebSocket door: how a connection picks
 * it, what it refuses, bytes as `bin`, every superjson type, channels
 * shared with JSON subscribers, and both clients (Herald's with
 * `encoding: 'msgpack'`, the stock one with `msgpackEncoder`).
 */

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

interface ErrorFrame {
  readonly error: { readonly json: { readonly message: string; readonly data: { readonly code: string } } };
}

function messageOf(frame: unknown): string {
  return (frame as ErrorFrame).error.json.message;
}

describe('how a connection picks its encoding', () => {
  it('speaks MessagePack from the start when it offers herald.msgpack, and refuses text frames saying so', async () => {
    const { server } = cleanup.add(await startHardeningServer());
    const socket = new WebSocket(server.url, [JSON_PROTOCOL, MSGPACK_PROTOCOL]);
    const raw = wrap(socket);
    cleanup.defer(() => socket.terminate());
    await raw.opened;
    expect(socket.protocol).toBe(MSGPACK_PROTOCOL);
    socket.send(msgpackEncoder.encode(request(1, 'query', 'add', { a: 40, b: 2 })));
    const answer = await raw.next();
    expect(answer.binary).toBe(true);
    expect(resultOf(answer.message)).toBe(42);

    socket.send(JSON.stringify(request(2, 'query', 'add', { a: 1, b: 1 })));
    const refusal = await raw.next();
    expect(refusal.binary).toBe(true);
    expect(errorCodeOf(refusal.message)).toBe('UNPROCESSABLE_CONTENT');
    expect(messageOf(refusal.message)).toMatch(/this connection speaks MessagePack/);
  });

  it('otherwise takes the type of the first frame that is not a heartbeat: binary is MessagePack', async () => {
    const { server } = cleanup.add(await startHardeningServer());
    const socket = new WebSocket(server.url);
    const raw = wrap(socket);
    cleanup.defer(() => socket.terminate());
    await raw.opened;
    expect(socket.protocol).toBe('');
    socket.send('PING');
    expect((await raw.next()).text).toBe('PONG');
    socket.send(msgpackEncoder.encode(request(1, 'query', 'add', { a: 2, b: 2 })));
    const answer = await raw.next();
    expect(answer.binary).toBe(true);
    expect(resultOf(answer.message)).toBe(4);
    // Heartbeats stay text on a MessagePack connection.
    socket.send('PING');
    expect((await raw.next()).text).toBe('PONG');
  });

  it('refuses a binary frame on a JSON connection, saying it speaks JSON, and keeps serving it', async () => {
    const { server } = cleanup.add(await startHardeningServer());
    const socket = rawSocket(server.url);
    cleanup.defer(() => socket.close());
    socket.send(request(1, 'query', 'add', { a: 1, b: 2 }));
    expect(resultOf(await socket.frame(answerTo(1)))).toBe(3);
    socket.sendBinary(request(2, 'query', 'add', { a: 1, b: 1 }));
    const refusal = await socket.frame((frame) => errorCodeOf(frame) !== null);
    expect(errorCodeOf(refusal)).toBe('UNPROCESSABLE_CONTENT');
    expect(messageOf(refusal)).toMatch(/this connection speaks JSON/);
    socket.send(request(3, 'query', 'add', { a: 3, b: 3 }));
    expect(resultOf(await socket.frame(answerTo(3)))).toBe(6);
  });

  it('answers a malformed MessagePack frame with PARSE_ERROR on that connection and goes on', async () => {
    const { server } = cleanup.add(await startHardeningServer());
    const socket = new WebSocket(server.url, [MSGPACK_PROTOCOL]);
    const raw = wrap(socket);
    cleanup.defer(() => socket.terminate());
    await raw.opened;
    // Truncated: a map missing its value, a str32 claiming 4 GiB, an array missing an element.
    for (const garbage of [Buffer.from([0x81, 0xa1]), Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x41]), Buffer.from([0x92, 0x01])]) {
      socket.send(garbage);
      const answer = await raw.next();
      expect(answer.binary).toBe(true);
      expect(errorCodeOf(answer.message)).toBe('PARSE_ERROR');
      expect(messageOf(answer.message)).toMatch(/not valid MessagePack/);
    }
    socket.send(msgpackEncoder.encode(request(1, 'query', 'add', { a: 5, b: 5 })));
    expect(resultOf((await raw.next()).message)).toBe(10);
  });

  it('refuses every MessagePack extension but msgpackr\'s undefined with PARSE_ERROR saying which, and goes on', async () => {
    const { server } = cleanup.add(await startHardeningServer());
    const socket = new WebSocket(server.url, [MSGPACK_PROTOCOL]);
    const raw = wrap(socket);
    cleanup.defer(() => socket.terminate());
    await raw.opened;
    const pack = (value: unknown): Buffer => Buffer.from(msgpackEncoder.encode(value) as Uint8Array);
    const hex = (text: string): Buffer => Buffer.from(text.replace(/ /g, ''), 'hex');
    /** `{ id, method: 'query', params: { path: 'add', input: { json: { a: <value>, b: 2 } } } }`, `value` as raw bytes. */
    const addWith = (id: number, value: Buffer): Buffer =>
      Buffer.concat([
        hex('83'), pack('id'), pack(id), pack('method'), pack('query'), pack('params'),
        hex('82'), pack('path'), pack('add'), pack('input'),
        hex('81'), pack('json'), hex('82'), pack('a'), value, pack('b'), pack(2),
      ]);
    const refused: [string, Buffer, RegExp][] = [
      // A msgpackr record definition (ext 0x72, slot 0x40) of the request's keys, then its values.
      ['a record', Buffer.concat([hex('d4 72 40'), pack(['id', 'method', 'params']), pack(1), pack('query'), pack({ path: 'add', input: { json: { a: 1, b: 2 } } })]), /type 114 \(msgpackr's records\/structures; pack with useRecords: false\)/],
      // msgpackr's bundled strings (ext 0x62, fixext 4) ahead of the message.
      ['bundled strings', Buffer.concat([hex('d6 62 00 00 00 27'), pack({ id: 2 })]), /type 98 \(msgpackr's bundled strings/],
      ['a timestamp (ext -1)', addWith(3, hex('d6 ff 00 00 00 00')), /type -1 \(MessagePack's timestamp\)/],
      ["msgpackr's RegExp", addWith(4, Buffer.concat([hex('d4 78 00'), pack(['a+', ''])])), /type 120 \(msgpackr's RegExp\)/],
      ["msgpackr's Set", addWith(5, Buffer.concat([hex('d4 73 00'), pack([1])])), /type 115 \(msgpackr's Set\)/],
      ['a typed array', addWith(6, hex('c7 05 74 03 00 00 00 00')), /type 116 \(msgpackr's typed arrays; send a Uint8Array/],
      ['a custom extension', addWith(7, hex('d5 10 01 02')), /type 16, which Herald does not read/],
      ['an ext 32 with a negative type', addWith(8, hex('c9 00 00 00 01 80 00')), /type -128, which Herald does not read/],
      ['undefined with a payload that is not a zero byte', addWith(9, hex('d4 00 01')), /type 0, which Herald does not read/],
    ];
    for (const [name, frame, reason] of refused) {
      socket.send(frame);
      const answer = await raw.next();
      expect(answer.binary, name).toBe(true);
      expect(errorCodeOf(answer.message), name).toBe('PARSE_ERROR');
      expect(messageOf(answer.message), name).toMatch(reason);
      expect(messageOf(answer.message), name).toMatch(/send plain MessagePack/);
    }
    // msgpackr's undefined (fixext 1, type 0, a zero byte) is what Herald's own packing writes: read as undefined.
    socket.send(Buffer.concat([hex('84'), pack('id'), pack(10), pack('method'), pack('query'), pack('jsonrpc'), hex('d4 00 00'), pack('params'), pack({ path: 'add', input: { json: { a: 4, b: 6 } } })]));
    const answer = (await raw.next()).message as { id: number; jsonrpc?: unknown };
    expect(resultOf(answer)).toBe(10);
    expect(answer.id).toBe(10);
    expect('jsonrpc' in answer).toBe(false);
    socket.send(addWith(11, pack(40)));
    expect(resultOf((await raw.next()).message)).toBe(42);
  });

  it('closes with 1009 on a binary frame over maxPayloadBytes, as for text', async () => {
    const { server } = cleanup.add(await startHardeningServer({ limits: { maxPayloadBytes: 16 * 1024 } }));
    const socket = new WebSocket(server.url, [MSGPACK_PROTOCOL]);
    const raw = wrap(socket);
    await raw.opened;
    socket.send(msgpackEncoder.encode(request(1, 'mutation', 'echoBytes', { bytes: new Uint8Array(32 * 1024) })));
    expect((await raw.closed).code).toBe(1009);
  });
});

describe('bytes as bytes', () => {
  const payload = new Uint8Array(randomBytes(64 * 1024));

  it('carries a Uint8Array as bin both ways: a 64 KiB channel message is at most 1.02x its payload on the wire', async () => {
    const { server, app } = cleanup.add(await startHardeningServer());
    const socket = new WebSocket(server.url, [MSGPACK_PROTOCOL]);
    const raw = wrap(socket);
    cleanup.defer(() => socket.terminate());
    await raw.opened;
    socket.send(msgpackEncoder.encode(request(1, 'subscription', 'numbers', { stream: 'bin' })));
    await raw.until((frame) => JSON.stringify(frame.message).includes('"live"'));
    await app.numbers.publish('bin', { n: 1, bytes: payload });
    const delivered = await raw.until((frame) => frame.size > 60_000);
    expect(delivered.binary).toBe(true);
    expect(delivered.size).toBeLessThanOrEqual(payload.length * 1.02);
    const event = resultOf<{ data: { type: string; message: { bytes: Uint8Array } } }>(delivered.message);
    expect(event.data.message.bytes).toEqual(payload);
    expect(event.data.message.bytes.constructor).toBe(Uint8Array);

    // An input with bytes goes out as bin too: the request frame is about the payload's size.
    const frame = msgpackEncoder.encode(request(2, 'mutation', 'echoBytes', { bytes: payload })) as Uint8Array;
    expect(frame.length).toBeLessThanOrEqual(payload.length * 1.02);
    socket.send(frame);
    const echoed = await raw.until((answer) => (answer.message as RawFrame).id === 2);
    expect(echoed.size).toBeLessThanOrEqual(payload.length * 2 * 1.02);
    expect(resultOf<{ bytes: Uint8Array; reversed: Uint8Array }>(echoed.message).reversed).toEqual(Uint8Array.from(payload).reverse());
  });

  it('gives a keyed mutation with bytes one fingerprint on both encodings: a repeat in MessagePack replays the JSON outcome', async () => {
    const { server } = cleanup.add(await startHardeningServer());
    const keyed = (id: number) => ({
      ...request(id, 'mutation', 'publish', { stream: 'keyed', n: 1, bytes: new Uint8Array([1, 2, 3]) }),
      params: { path: 'publish', input: transformer.serialize({ stream: 'keyed', n: 1, bytes: new Uint8Array([1, 2, 3]) }), idempotencyKey: 'same-key' },
    });
    const viaJson = rawSocket(server.url);
    cleanup.defer(() => viaJson.close());
    viaJson.send(keyed(1));
    const first = resultOf<string>(await viaJson.frame(answerTo(1)));
    const viaMsgpack = rawSocket(server.url);
    cleanup.defer(() => viaMsgpack.close());
    viaMsgpack.sendBinary(keyed(1));
    const repeat = await viaMsgpack.frame(answerTo(1));
    expect(errorCodeOf(repeat)).toBeNull();
    expect(resultOf<string>(repeat)).toBe(first);
  });

  it('round-trips every type superjson carries, bytes inside them included', async () => {
    const herald = createHerald();
    const t = initTRPC.create({ transformer, errorFormatter: heraldErrorFormatter });
    const router = t.router({ echo: t.procedure.input(z.unknown()).mutation(({ input }) => input) });
    const server = await createHeraldServer({ router, herald, port: 0, host: '127.0.0.1', createContext: () => ({}) });
    cleanup.defer(() => server.close());
    const value = {
      at: new Date('2026-12-06T21:48:00Z'),
      map: new Map<string, unknown>([['a', new Uint8Array([1, 2])], ['b.c', 2]]),
      set: new Set([1, 'x']),
      big: 12345678901234567890n,
      missing: undefined,
      list: [new Uint8Array([3]), { 'dotted.key': new Uint8Array([4, 5]) }],
      nested: { deep: { bytes: new Uint8Array([6]) } },
    };
    for (const kind of CLIENT_KINDS) {
      const client = makeClient<typeof router>(kind, server.url, undefined, { encoding: 'msgpack' });
      cleanup.defer(() => client.close());
      const echoed = (await client.trpc.echo.mutate(value)) as typeof value;
      expect(echoed, kind).toEqual(value);
      expect('missing' in echoed, kind).toBe(true);
      expect(echoed.list[0]?.constructor, kind).toBe(Uint8Array);
    }
  });
});

describe('channels shared by both encodings', () => {
  it.each(CLIENT_KINDS)('deliver every message to JSON and MessagePack subscribers alike, across cuts, over the %s client', async (kind) => {
    const node = cleanup.add(await startHardeningServer());
    const proxy = await createFaultProxy({ target: { port: node.server.port } });
    cleanup.defer(() => proxy.close());
    const viaJson = makeClient<HardeningRouter>(kind, proxy.url(), undefined, { encoding: 'json' });
    const viaMsgpack = makeClient<HardeningRouter>(kind, proxy.url(), undefined, { encoding: 'msgpack' });
    cleanup.defer(() => viaJson.close());
    cleanup.defer(() => viaMsgpack.close());
    const recorders = [viaJson, viaMsgpack].map((client) =>
      recordChannel<{ n: number; bytes?: Uint8Array }>((handlers) => client.trpc.numbers.subscribe({ stream: 'both' }, handlers)),
    );
    cleanup.defer(() => recorders.forEach((recorder) => recorder.unsubscribe()));
    await Promise.all(recorders.map((recorder) => recorder.waitForLive()));
    const total = 60;
    for (let n = 1; n <= total; n++) {
      await node.app.numbers.publish('both', { n, bytes: new Uint8Array([n]) });
      if (n === 20 || n === 40) {
        // Refused while the cut reaches the server: a client back at once would keep the count from ever reading 0.
        proxy.refuse();
        proxy.cutAll();
        await pollUntil(() => node.server.connectionCount === 0, 'the cut to reach the server');
        proxy.accept();
      }
    }
    await Promise.all(recorders.map((recorder) => recorder.waitForMessages(total, 15_000)));
    for (const recorder of recorders) {
      expect(recorder.messages().map((message) => message.n)).toEqual(range(1, total));
      expect(recorder.messages().every((message) => message.bytes?.[0] === message.n)).toBe(true);
      expect(recorder.gaps()).toEqual([]);
    }
  });
});

describe("Herald's client", () => {
  it('speaks MessagePack with a Herald server: binary frames on a herald.msgpack socket', async () => {
    const { server } = cleanup.add(await startHardeningServer());
    const sockets: Recording[] = [];
    const client = createHeraldClient<HardeningRouter>({ url: server.url, encoding: 'msgpack', WebSocket: recordingWebSocket(sockets) });
    cleanup.add(client);
    const bytes = new Uint8Array(randomBytes(1_000));
    const echoed = await client.trpc.echoBytes.mutate({ bytes });
    expect(echoed.bytes).toEqual(bytes);
    expect(sockets[0]?.socket.protocol).toBe(MSGPACK_PROTOCOL);
    expect(sockets[0]?.sent.some((frame) => typeof frame !== 'string')).toBe(true);
    expect(sockets[0]?.sent.every((frame) => typeof frame !== 'string' || frame === 'PING' || frame === 'PONG')).toBe(true);
  });

  it('fails a call whose binary frame is over maxPayloadBytes with PAYLOAD_TOO_LARGE, once, and goes on', async () => {
    const { server } = cleanup.add(await startHardeningServer({ limits: { maxPayloadBytes: 1_048_576 } }));
    const client = cleanup.add(createHeraldClient<HardeningRouter>({ url: server.url, encoding: 'msgpack', backoff: { initialDelayMs: 50, maxDelayMs: 200 } }));
    await expect(client.trpc.add.query({ a: 1, b: 1 })).resolves.toBe(2);
    const error = await client.trpc.echoBytes.mutate({ bytes: new Uint8Array(2 * 1_048_576) }).then(
      () => null,
      (cause: unknown) => cause as { data?: { heraldCode?: string } },
    );
    expect(error?.data?.heraldCode).toBe('PAYLOAD_TOO_LARGE');
    // Under the limit as bin, though its base64 (1.33 MiB) would not be.
    const bytes = new Uint8Array(randomBytes(1_000_000));
    expect((await client.trpc.echoBytes.mutate({ bytes })).length).toBe(bytes.length);
  });

  it('falls back to JSON against a server that does not speak MessagePack (a stock tRPC WebSocket server)', async () => {
    const t = initTRPC.create({ transformer });
    const router = t.router({ echo: t.procedure.input(z.unknown()).mutation(({ input }) => input) });
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const handler = applyWSSHandler({ wss, router });
    cleanup.defer(
      () =>
        new Promise<void>((resolve) => {
          handler.broadcastReconnectNotification();
          for (const client of wss.clients) client.terminate();
          wss.close(() => resolve());
        }),
    );
    const address = wss.address() as { port: number };
    const sockets: Recording[] = [];
    const client: HeraldClient<typeof router> = createHeraldClient<typeof router>({
      url: `ws://127.0.0.1:${address.port}`,
      encoding: 'msgpack',
      WebSocket: recordingWebSocket(sockets),
    });
    cleanup.add(client);
    const bytes = new Uint8Array([1, 2, 3]);
    expect(await client.trpc.echo.mutate({ bytes })).toEqual({ bytes });
    expect(sockets[0]?.socket.protocol).toBe(JSON_PROTOCOL);
    expect(sockets[0]?.sent.every((frame) => typeof frame === 'string')).toBe(true);
  });
});

/** A socket Herald's client dialed, and every frame it sent. */
interface Recording {
  readonly socket: WebSocket;
  readonly sent: (string | Uint8Array)[];
}

/** A `ws` WebSocket class for the `WebSocket` option that records its sockets and what they send. */
function recordingWebSocket(sockets: Recording[]): typeof globalThis.WebSocket {
  class RecordingWebSocket extends WebSocket {
    readonly sent: (string | Uint8Array)[] = [];
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols);
      sockets.push({ socket: this, sent: this.sent });
    }
    override send(data: string | Uint8Array): void {
      this.sent.push(data);
      super.send(data);
    }
  }
  return RecordingWebSocket as unknown as typeof globalThis.WebSocket;
}

/** One frame a socket received: decoded (MessagePack or JSON), with its type and size. */
interface Received {
  readonly binary: boolean;
  readonly size: number;
  readonly text: string | null;
  readonly message: unknown;
}

/** Frames of a plain `ws` socket in order, read one at a time, with their types and sizes. */
function wrap(socket: WebSocket) {
  const received: Received[] = [];
  let read = 0;
  const waiters = new Set<() => void>();
  socket.on('error', () => undefined);
  socket.on('message', (data: RawData, isBinary: boolean) => {
    const buffer = data as Buffer;
    const text = isBinary ? null : buffer.toString();
    let message: unknown = text;
    if (isBinary) message = msgpackEncoder.decode(new Uint8Array(buffer));
    else if (text !== 'PING' && text !== 'PONG') message = JSON.parse(text!);
    received.push({ binary: isBinary, size: buffer.length, text, message });
    for (const waiter of [...waiters]) waiter();
  });
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const closed = new Promise<{ code: number }>((resolve) => socket.once('close', (code) => resolve({ code })));
  const wait = (predicate: (frame: Received, index: number) => boolean, label: string): Promise<Received> =>
    new Promise((resolve, reject) => {
      const check = () => {
        for (let index = read; index < received.length; index++) {
          if (predicate(received[index]!, index)) {
            read = index + 1;
            done();
            resolve(received[index]!);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${label} did not arrive (got ${received.length} frames)`));
      }, 5_000);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  return {
    opened,
    closed,
    next: () => wait(() => true, 'the next frame'),
    until: (predicate: (frame: Received) => boolean) => wait(predicate, 'a matching frame'),
  };
}
