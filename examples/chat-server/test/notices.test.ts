import { afterEach, describe, expect, it } from 'vitest';
import { TRPCClientError } from '@trpc/client';
import type { AppRouter, Notice } from '@herald/example-chat-server';
import { Cleanup, nextError, recordChannel } from '@herald/test-kit';
import { chatClient, loginToken, startTestServer, type ChatTrpc } from './helpers/chat.js';

/** `notices.nudge` and `notices.onNotice`: a notice to one user (herald.userChannel), on each of the user's connections. */
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function recordNotices(trpc: ChatTrpc) {
  const recorded = recordChannel<Notice>((handlers) => trpc.notices.onNotice.subscribe({}, handlers));
  cleanup.defer(() => recorded.unsubscribe());
  return recorded;
}

describe('notices to one user', () => {
  it("reach each of the user's connections, whatever the client, and only that user", async () => {
    const chat = cleanup.add(await startTestServer());
    const url = chat.server.url;
    const ann = await loginToken(url, 'ann');
    const bob = await loginToken(url, 'bob');
    const annStock = cleanup.add(chatClient('stock', url, { token: ann.token }));
    const annHerald = cleanup.add(chatClient('herald', url, { token: ann.token }));
    const bobClient = cleanup.add(chatClient('herald', url, { token: bob.token }));
    const onAnnStock = recordNotices(annStock.trpc);
    const onAnnHerald = recordNotices(annHerald.trpc);
    const onBob = recordNotices(bobClient.trpc);
    await Promise.all([onAnnStock.waitForLive(), onAnnHerald.waitForLive(), onBob.waitForLive()]);

    const sent = await bobClient.trpc.notices.nudge.mutate({ userId: ann.user.id, text: 'lunch?' });
    expect(sent).toMatchObject({ from: { name: 'bob' }, text: 'lunch?' });
    for (const recorded of [onAnnStock, onAnnHerald]) {
      const [notice] = await recorded.waitForMessages(1);
      expect(notice).toMatchObject({ id: sent.id, from: { id: bob.user.id }, text: 'lunch?' });
      expect(notice?.sentAt).toBeInstanceOf(Date);
    }
    // Bob's first notice is the one to him: ann's never reached him.
    await annHerald.trpc.notices.nudge.mutate({ userId: bob.user.id, text: 'yes' });
    expect((await onBob.waitForMessages(1)).map((notice) => notice.text)).toEqual(['yes']);
  });

  it('needs a user to subscribe', async () => {
    const chat = cleanup.add(await startTestServer());
    const anonymous = cleanup.add(chatClient('stock', chat.server.url));
    const recorded = recordNotices(anonymous.trpc);
    const error = await nextError(recorded);
    expect(error).toBeInstanceOf(TRPCClientError);
    expect((error as TRPCClientError<AppRouter>).data?.code).toBe('UNAUTHORIZED');
  });
});
