import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createHeraldClient } from '@herald/client';
import { transformer } from '@herald/shared';
import {
  answerTo,
  Cleanup,
  CLIENT_KINDS,
  FAST_BACKOFF,
  makeClient,
  rawSocket,
  recordChannel,
  request,
  startHardeningServer,
  type HardeningRouter,
  type RawSocket,
} from '@herald/test-kit';
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws';
import { PreparedFrame } from '../src/ws/preparedFrame.js';
import { HeraldWebSocket, wsSocket, type FrameWriter } from '../src/ws/socket.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Bytes the client's TCP socket has read so far (what crossed the wire, compressed or not). */
function wireBytesRead(socket: { socket: unknown }): number {
  return (socket.socket as { _socket: { bytesRead: number } })._socket.bytesRead;
}

describe('permessage-deflate', () => {
  it('is off by default', async () => {
    const { server } = cleanup.add(await startHardeningServer());
    const socket = rawSocket(server.url);
    cleanup.defer(() => socket.close());
    await socket.opened;
    expect(socket.socket.extensions).toBe('');
  });

  it('compresses frames over the threshold, end to end through channels', async () => {
    const { server, app } = cleanup.add(await startHardeningServer({ compression: { threshold: 256 } }));
    const socket = rawSocket(server.url);
    cleanup.defer(() => socket.close());
    await socket.opened;
    expect(socket.socket.extensions).toMatch(/^permessage-deflate/);

    socket.send(request(1, 'subscription', 'numbers', { stream: 'zip' }));
    await socket.frame((frame) => answerTo(1)(frame) && JSON.stringify(frame).includes('"live"'));
    const before = wireBytesRead(socket);
    const pad = 'all work and no play '.repeat(500); // 10.5 kB, very compressible
    const count = 20;
    for (let n = 1; n <= count; n++) await app.numbers.publish('zip', { n, pad });
    await socket.frame((frame) => answerTo(1)(frame) && JSON.stringify(frame).includes(`"n":${count},`));
    const received = socket.frames.filter((frame) => answerTo(1)(frame) && JSON.stringify(frame).includes('"message"'));
    expect(received).toHaveLength(count);
    // Every frame arrived whole, and the wire carried a small fraction of it.
    expect((received[0] as { result: { data: { json: { data: { message: { pad: string } } } } } }).result.data.json.data.message.pad).toBe(pad);
    expect(wireBytesRead(socket) - before).toBeLessThan((count * pad.length) / 10);

    // Herald's client (ws in Node offers the extension) works over it, and so does a client that does not offer it.
    const client = createHeraldClient<HardeningRouter>({ url: server.url, backoff: FAST_BACKOFF });
    cleanup.add(client);
    const subscription = recordChannel<{ n: number; pad?: string }>((handlers) => client.trpc.numbers.subscribe({ stream: 'zip' }, handlers));
    cleanup.defer(() => subscription.unsubscribe());
    await subscription.waitForLive();
    await client.trpc.publish.mutate({ stream: 'zip', n: 99, pad });
    const [message] = await subscription.waitForMessages(1);
    expect(message).toEqual({ n: 99, pad });

    const plain = rawSocket(server.url, { perMessageDeflate: false });
    cleanup.defer(() => plain.close());
    await plain.opened;
    expect(plain.socket.extensions).toBe('');
    plain.send(request(1, 'query', 'add', { a: 40, b: 2 }));
    expect(await plain.frame(answerTo(1))).toMatchObject({ result: { data: { json: 42 } } });
  });
});

describe('permessage-deflate with shared frames', () => {
  /** The channel messages a raw socket received for subscription `id`, decoded. */
  function messagesOf(socket: RawSocket, id: number): { n: number; pad?: string; bytes?: Uint8Array }[] {
    return socket.frames
      .filter((frame) => answerTo(id)(frame) && (frame as { result?: { type?: string } }).result?.type === 'data')
      .map((frame) => (transformer.deserialize((frame as { result: { data: never } }).result.data) as { data: { type?: string; message?: never } }).data)
      .filter((event) => event.type === 'message')
      .map((event) => event.message!);
  }

  async function subscribed(url: string, options: ClientOptions): Promise<RawSocket> {
    const socket = rawSocket(url, options);
    cleanup.defer(() => socket.close());
    await socket.opened;
    socket.send(request(1, 'subscription', 'numbers', { stream: 'sizes' }));
    await socket.frame((frame) => answerTo(1)(frame) && JSON.stringify(frame).includes('"live"'));
    return socket;
  }

  it.each([false, true])(
    'delivers every frame size whole to peers that negotiated differently (context takeover: %s)',
    async (contextTakeover) => {
      const { server, app } = cleanup.add(await startHardeningServer({ compression: { threshold: 256, contextTakeover } }));
      const peers = {
        plain: await subscribed(server.url, { perMessageDeflate: false }),
        deflate: await subscribed(server.url, {}),
        smallWindow: await subscribed(server.url, { perMessageDeflate: { serverMaxWindowBits: 10 } }),
      };
      expect(peers.plain.socket.extensions).toBe('');
      const negotiated = (peers.smallWindow.socket as unknown as { _extensions: Record<string, { params: Record<string, unknown> }> })._extensions;
      expect(negotiated['permessage-deflate']?.params.server_max_window_bits).toBe(10);
      // Around both frame-header boundaries (126 and 65,536 bytes) and the threshold, compressible and not.
      const sent = [
        ...[0, 40, 60, 70, 200, 240, 400, 5_000, 65_400, 65_536].map((length, i) => ({ n: i + 1, pad: 'herald '.repeat(10_000).slice(0, length) })),
        { n: 11, pad: randomBytes(32_768).toString('hex') },
        { n: 12, bytes: new Uint8Array(randomBytes(70_000)) },
      ];
      for (const message of sent) await app.numbers.publish('sizes', message);
      for (const [name, socket] of Object.entries(peers)) {
        await socket.frame((frame) => answerTo(1)(frame) && JSON.stringify(frame).includes('"n":12,'), 5_000, `the last message at ${name}`);
        expect(messagesOf(socket, 1), name).toEqual(sent);
      }
    },
  );

  it('interleaves answers ws compresses per socket with shared message frames, losing and reordering no message', async () => {
    const { server, app } = cleanup.add(await startHardeningServer({ compression: { threshold: 256 } }));
    const socket = await subscribed(server.url, {});
    const count = 50;
    for (let n = 1; n <= count; n++) {
      // The answer (4 KiB, over the threshold) is compressed by ws on zlib's thread pool; the channel frames written meanwhile must queue behind it.
      socket.send(request(100 + n, 'mutation', 'echoBytes', { bytes: new Uint8Array(randomBytes(4_096)) }));
      await app.numbers.publish('sizes', { n, pad: `message ${n} `.repeat(40) });
    }
    await socket.frame((frame) => answerTo(1)(frame) && JSON.stringify(frame).includes(`"n":${count},`));
    await socket.frame(answerTo(100 + count));
    expect(messagesOf(socket, 1).map((message) => message.n)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  });
});

describe('prepared frames', () => {
  /** A real ws server-side socket and its frame writer, with the compression its peer negotiated. */
  async function serverSide(
    compression: { threshold: number; level: number; contextTakeover: boolean } | null,
    clientOptions: ClientOptions,
  ): Promise<{ socket: WebSocket; writer: FrameWriter; received: Promise<string[]> }> {
    const wss = new WebSocketServer({
      WebSocket: HeraldWebSocket,
      port: 0,
      host: '127.0.0.1',
      perMessageDeflate: compression ? { threshold: compression.threshold, serverNoContextTakeover: !compression.contextTakeover } : false,
    });
    cleanup.defer(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const accepted = new Promise<HeraldWebSocket>((resolve) => wss.once('connection', (socket) => resolve(socket as HeraldWebSocket)));
    const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, clientOptions);
    client.on('error', () => undefined);
    cleanup.defer(() => client.terminate());
    await new Promise((resolve) => client.once('open', resolve));
    const texts: string[] = [];
    const received = new Promise<string[]>((resolve) =>
      client.on('message', (data: Buffer) => {
        texts.push(data.toString());
        if (texts.length === 2) resolve(texts);
      }),
    );
    const socket = await accepted;
    for (const wsSocket of wss.clients) cleanup.defer(() => wsSocket.terminate());
    return { socket, writer: wsSocket(socket, compression), received };
  }

  const writeText = (writer: FrameWriter, text: string) => writer.text(text, Buffer.byteLength(text));
  const small = new PreparedFrame('{"small":true}');
  const large = new PreparedFrame(JSON.stringify({ large: 'compress me '.repeat(100) }));

  it.each([
    ['no compression', null, {}],
    ['a peer that did not offer compression', { threshold: 64, level: 3, contextTakeover: false }, { perMessageDeflate: false }],
    ['no context takeover', { threshold: 64, level: 3, contextTakeover: false }, {}],
  ] as const)("are written as they are with %s (the ws internals they rely on are still there)", async (_, compression, clientOptions) => {
    const { writer, received } = await serverSide(compression, clientOptions);
    expect(writer.prepared(small)).toBe(true);
    expect(writer.prepared(large)).toBe(true);
    expect(await received).toEqual([small.payload.toString(), large.payload.toString()]);
  });

  it('wait behind a message ws is still compressing (the caller falls back to ws.send, which queues)', async () => {
    const { socket, writer, received } = await serverSide({ threshold: 64, level: 3, contextTakeover: false }, {});
    socket.send(large.payload); // compressed on zlib's thread pool: ws's sender is busy until it is written
    expect(writer.prepared(small)).toBe(false);
    expect(writeText(writer, '{"small":true}')).toBe(false);
    socket.send(small.payload);
    expect(await received).toEqual([large.payload.toString(), small.payload.toString()]);
    expect(writer.prepared(small)).toBe(true);
  });

  it('are refused with context takeover when ws would compress them: it compresses per socket then', async () => {
    const { writer, received } = await serverSide({ threshold: 64, level: 3, contextTakeover: true }, {});
    expect(writer.prepared(large)).toBe(false);
    expect(writeText(writer, large.payload.toString())).toBe(false);
    // Under the threshold ws sends frames uncompressed, which leaves the compression context alone.
    expect(writer.prepared(small)).toBe(true);
    expect(writeText(writer, '{"answer":42}')).toBe(true);
    expect(await received).toEqual([small.payload.toString(), '{"answer":42}']);
  });

  it('build one-off text frames of every header size, multi-byte characters included', async () => {
    const { writer, received } = await serverSide(null, {});
    const texts = ['é'.repeat(40_000), `{"emoji":"${'🛰️'.repeat(3)}"}`];
    for (const text of texts) expect(writeText(writer, text)).toBe(true);
    expect(await received).toEqual(texts);
  });
});

describe('binary payloads', () => {
  const bytes = new Uint8Array([...Array.from({ length: 256 }, (_, i) => i), ...randomBytes(65_536)]);

  it.each(CLIENT_KINDS)('round-trip through a procedure as Uint8Array over the %s client', async (kind) => {
    const { server } = cleanup.add(await startHardeningServer());
    const client = cleanup.add(makeClient<HardeningRouter>(kind, server.url));
    const echoed = await client.trpc.echoBytes.mutate({ bytes });
    expect(echoed.bytes).toBeInstanceOf(Uint8Array);
    expect(echoed.bytes).toEqual(bytes);
    expect(echoed.length).toBe(bytes.length);
    expect(echoed.reversed).toEqual(Uint8Array.from(bytes).reverse());
    // Empty arrays survive too.
    expect((await client.trpc.echoBytes.mutate({ bytes: new Uint8Array(0) })).length).toBe(0);
  });

  it('travel through a channel, live and replayed, as Uint8Array (base64 on the wire)', async () => {
    const { server, app } = cleanup.add(await startHardeningServer());
    const client = createHeraldClient<HardeningRouter>({ url: server.url, backoff: FAST_BACKOFF });
    cleanup.add(client);
    await client.trpc.publish.mutate({ stream: 'blobs', n: 1, bytes });
    const live = recordChannel<{ n: number; bytes?: Uint8Array }>((handlers) => client.trpc.numbers.subscribe({ stream: 'blobs', lastEventId: '0-0' }, handlers));
    cleanup.defer(() => live.unsubscribe());
    await live.waitForLive();
    await app.numbers.publish('blobs', { n: 2, bytes: bytes.subarray(0, 3) });
    const messages = await live.waitForMessages(2);
    expect(messages[0]?.bytes).toBeInstanceOf(Uint8Array);
    expect(messages[0]?.bytes).toEqual(bytes);
    expect(messages[1]?.bytes).toEqual(new Uint8Array([0, 1, 2]));

    // On the wire it is base64 text under superjson's custom type, not an array of numbers.
    const socket = rawSocket(server.url);
    cleanup.defer(() => socket.close());
    socket.send(request(1, 'query', 'history', { stream: 'blobs' }));
    const frame = await socket.frame(answerTo(1));
    const text = JSON.stringify(frame);
    expect(text).toContain(Buffer.from(bytes.subarray(0, 3)).toString('base64'));
    const decoded = transformer.deserialize((frame as { result: { data: never } }).result.data) as { message: { bytes: Uint8Array } }[];
    expect(decoded[1]?.message.bytes).toEqual(new Uint8Array([0, 1, 2]));
  });
});
