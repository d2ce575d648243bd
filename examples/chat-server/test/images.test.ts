import { afterEach, describe, expect, it } from 'vitest';
import { MAX_IMAGE_BYTES, type Message } from '@herald/example-chat-server';
import { Cleanup, recordChannel } from '@herald/test-kit';
import { chatClient, loginToken, startTestServer, subscribeRoom, type ChatError } from './helpers/chat.js';

/**
 * Images in the chat (`chat.sendImage`): delivered to the room as bytes to
 * subscribers of either encoding, kept in history and replayed on resume,
 * and refused, with a message saying what to do, past the size limit or when
 * the bytes are not the image type they claim.
 */

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Bytes that start as a PNG does, `size` long, each position its own value. */
function pngBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let index = 0; index < size; index++) bytes[index] = (index * 31 + 7) & 0xff;
  bytes.set(PNG_SIGNATURE);
  return bytes;
}

describe('chat images', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('delivers an image as bytes to JSON and MessagePack subscribers, keeps it in history and replays it on resume', async () => {
    const chat = cleanup.add(await startTestServer());
    const { url } = chat.server;
    const ann = await loginToken(url, 'ann');
    const bob = await loginToken(url, 'bob');
    const sender = cleanup.add(chatClient('herald', url, { token: ann.token }, { encoding: 'msgpack' }));
    const readers = (['json', 'msgpack'] as const).flatMap((encoding) =>
      (['herald', 'stock'] as const).map((kind) => {
        const client = cleanup.add(chatClient(kind, url, { token: bob.token }, { encoding }));
        return { name: `${kind} ${encoding}`, room: subscribeRoom(client.trpc, 'pictures') };
      }),
    );
    await Promise.all(readers.map(({ room }) => room.waitForLive()));
    const { position } = await sender.trpc.chat.snapshot.query({ room: 'pictures' });

    const bytes = pngBytes(150 * 1024);
    const answer = await sender.trpc.chat.sendImage.mutate({ room: 'pictures', image: { bytes, type: 'image/png', alt: 'a test pattern' } });
    const isImage = (message: Message) => message.id === answer.id;
    for (const { name, room } of readers) {
      await room.until(() => room.messages().some(isImage));
      const image = room.messages().find(isImage)!.image;
      expect(image?.bytes, name).toBeInstanceOf(Uint8Array);
      expect(image?.bytes, name).toEqual(bytes);
      expect(image?.alt, name).toBe('a test pattern');
    }

    const history = await sender.trpc.chat.history.query({ room: 'pictures' });
    expect(history.find(isImage)?.image?.bytes).toEqual(bytes);

    // A subscriber that was away since `position` gets it replayed, as bytes.
    const late = cleanup.add(chatClient('herald', url, { token: bob.token }, { encoding: 'msgpack' }));
    const resumed = recordChannel<Message>((handlers) => late.trpc.chat.onMessage.subscribe({ room: 'pictures', lastEventId: position }, handlers));
    await resumed.until(() => resumed.messages().some(isImage));
    expect(resumed.messages().find(isImage)?.image?.bytes).toEqual(bytes);
  });

  it.each([
    ['over the size limit', { bytes: pngBytes(MAX_IMAGE_BYTES + 1), type: 'image/png' as const, alt: 'big' }, /Images are at most 256 KiB; pick a smaller one/],
    ['bytes that are not the type they claim', { bytes: new TextEncoder().encode('<svg onload="alert(1)"/>'), type: 'image/png' as const, alt: 'svg' }, /not a image\/png file/],
    ['a type the chat does not show', { bytes: pngBytes(64), type: 'image/svg+xml' as 'image/png', alt: 'svg' }, /Send a PNG, JPEG, GIF or WebP image/],
    ['no alt text', { bytes: pngBytes(64), type: 'image/png' as const, alt: '  ' }, /Describe the image in a few words/],
  ])('refuses an image with %s, saying what to do', async (_name, image, reason) => {
    const chat = cleanup.add(await startTestServer());
    const ann = await loginToken(chat.server.url, 'ann');
    const sender = cleanup.add(chatClient('herald', chat.server.url, { token: ann.token }, { encoding: 'msgpack' }));
    const error = (await sender.trpc.chat.sendImage.mutate({ room: 'pictures', image }).then(
      () => expect.fail('the image was accepted'),
      (cause: unknown) => cause,
    )) as ChatError;
    expect(error.data?.code).toBe('BAD_REQUEST');
    expect(error.message).toMatch(reason);
    expect(await sender.trpc.chat.history.query({ room: 'pictures' })).toEqual([]);
  });
});
