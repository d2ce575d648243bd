import { describe, expect, it } from 'vitest';
import { createFaultProxy } from '@herald/server/testing';
import {
  Cleanup,
  CLIENT_KINDS,
  holdsUntil,
  makeClient,
  nextError,
  nextEvent,
  nextState,
  pollUntil,
  recordStatuses,
  recordSubscription,
  startNumbersServer,
  subscribeNumbers,
  upgrade,
  upgradeStatus,
  type NumbersRouter,
  type SubscriptionHandlers,
} from '@herald/test-kit';

describe('the test kit', () => {
  it.each(CLIENT_KINDS)('the %s client reconnects after a cut (the docs/testing.md example)', async (kind) => {
    await using cleanup = new Cleanup();
    const app = cleanup.add(await startNumbersServer());
    const proxy = cleanup.add(await createFaultProxy({ target: { port: app.server.port } }));
    const client = cleanup.add(makeClient<NumbersRouter>(kind, proxy.url()));
    await nextState(client, 'open');
    const statuses = recordStatuses(client);
    // Started before the action that causes them.
    const reconnecting = nextState(client, 'reconnecting');
    const reopened = nextState(client, 'open');
    proxy.cutAll();
    await reconnecting;
    await reopened;
    expect(statuses.statuses).toEqual(['open', 'reconnecting', 'open']);
  });

  it('nextState waits for a change, not for the status the client has now', async () => {
    await using cleanup = new Cleanup();
    const app = cleanup.add(await startNumbersServer());
    const client = cleanup.add(makeClient<NumbersRouter>('herald', app.server.url));
    await nextState(client, 'open');
    await expect(nextState(client, 'open', 200)).rejects.toThrow(/no move to 'open' within 200 ms/);
  });

  it('nextEvent resolves with the next recorded event that matches, from now on', async () => {
    await using cleanup = new Cleanup();
    const app = cleanup.add(await startNumbersServer());
    const client = cleanup.add(makeClient<NumbersRouter>('stock', app.server.url));
    const numbers = subscribeNumbers(client, 's');
    cleanup.defer(() => numbers.unsubscribe());
    await numbers.waitForLive();
    const second = nextEvent(numbers, (event) => event.type === 'message' && event.message.n === 2);
    await app.app.numbers.publish('s', { n: 1 });
    await app.app.numbers.publish('s', { n: 2 });
    expect((await second).event).toEqual({ type: 'message', message: { n: 2 } });
    expect(numbers.numbers()).toEqual([1, 2]);
  });

  it('nextError resolves with the error a subscription fails with, and rejects if an event comes first', async () => {
    let handlers: SubscriptionHandlers<number> | undefined;
    const start = (given: SubscriptionHandlers<number>) => {
      handlers = given;
      return { unsubscribe: () => undefined };
    };
    const refused = recordSubscription<number>(start, { tracked: false });
    const error = nextError(refused);
    handlers?.onError(new Error('refused'));
    expect(await error).toEqual(new Error('refused'));
    expect(await nextError(refused)).toEqual(new Error('refused')); // already recorded
    const served = recordSubscription<number>(start, { tracked: false });
    const failing = nextError(served, 5_000, 'the refusal');
    handlers?.onData(1);
    await expect(failing).rejects.toThrow(/the refusal: an event came first/);
  });

  it('upgradeStatus gives the HTTP status of an upgrade, 101 when it is accepted', async () => {
    await using cleanup = new Cleanup();
    const app = cleanup.add(await startNumbersServer());
    expect(await upgradeStatus(app.server.url)).toBe(101);
    expect(await upgradeStatus(`${app.server.httpUrl.replace(/^http/, 'ws')}/nope`)).toBe(404);
    const accepted = await upgrade(app.server.url);
    cleanup.defer(() => accepted.socket.terminate());
    expect(accepted.status).toBe(101);
    expect(accepted.socket.readyState).toBe(accepted.socket.OPEN);
  });

  it('Cleanup runs every task newest first, with await using and with run(), and reports every failure', async () => {
    const order: string[] = [];
    {
      await using cleanup = new Cleanup();
      cleanup.defer(() => order.push('first'));
      cleanup.add({ close: () => order.push('second') });
    }
    expect(order).toEqual(['second', 'first']);

    const cleanup = new Cleanup();
    cleanup.defer(() => order.push('third'));
    cleanup.defer(() => {
      throw new Error('one');
    });
    cleanup.defer(() => Promise.reject(new Error('two')));
    const failure = await cleanup.run().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AggregateError);
    expect((failure as AggregateError).errors.map((error: Error) => error.message)).toEqual(['two', 'one']);
    expect(order.at(-1)).toBe('third');
    await cleanup.run(); // the tasks ran once
  });

  it('pollUntil returns the accepted value, and fails with the last one after its timeout', async () => {
    let reads = 0;
    expect(await pollUntil(() => ++reads, 'three reads', { accept: (n) => n >= 3, intervalMs: 1 })).toBe(3);
    await expect(pollUntil(() => 7, 'an eight', { accept: (n) => n === 8, timeoutMs: 50 })).rejects.toThrow(
      /an eight: not reached within 50 ms \(last: 7\)/,
    );
  });

  it('holdsUntil fails as soon as the condition stops holding', async () => {
    let holds = true;
    setTimeout(() => (holds = false), 30);
    await expect(holdsUntil(() => holds, Date.now() + 5_000, 'the flag', 5)).rejects.toThrow(/the flag: stopped holding/);
    await holdsUntil(() => true, Date.now() + 30, 'always', 5);
  });
});
