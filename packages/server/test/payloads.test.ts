import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createHeraldClient } from '@herald/client';
import { transformer } from '@herald/shared';
import { CLIENT_KINDS, Cleanup, FAST_BACKOFF, makeClient, recordChannel } from '../../../examples/chat-server/test/helpers/clients.js';
import { answerTo, rawSocket, request, startHardeningServer, type HardeningRouter } from './helpers/hardening.js';

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
