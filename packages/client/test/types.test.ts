import { describe, expectTypeOf, it } from 'vitest';
import type { TRPCClientError } from '@trpc/client';
import { createHeraldClient, type ConnectionState, type HeraldClient } from '@herald/client';
// The client package has no dependency on the example app, so its router type is imported by path.
import type { AppRouter } from '../../../examples/chat-server/src/index.js';
import type { ExpectedMessage } from './expectedTypes.js';

type ChatClient = HeraldClient<AppRouter>['trpc'];

describe('HeraldClient<AppRouter> types', () => {
  it('types chat.send.mutate from the router, with sentAt a Date', () => {
    // tRPC brands its promises with the error shape, so: a Promise, resolving to exactly the message.
    expectTypeOf<ChatClient['chat']['send']['mutate']>().returns.toExtend<Promise<ExpectedMessage>>();
    expectTypeOf<ChatClient['chat']['send']['mutate']>().returns.resolves.toEqualTypeOf<ExpectedMessage>();
    expectTypeOf<ChatClient['chat']['send']['mutate']>().parameter(0).toEqualTypeOf<{ room: string; text: string }>();
  });

  it('types queries and the login mutation', () => {
    expectTypeOf<ChatClient['chat']['history']['query']>().returns.resolves.toEqualTypeOf<ExpectedMessage[]>();
    expectTypeOf<ChatClient['chat']['history']['query']>().parameter(0).toEqualTypeOf<{ room: string; limit?: number | undefined; before?: string | undefined }>();
    expectTypeOf<ChatClient['auth']['login']['mutate']>().returns.resolves.toEqualTypeOf<{
      token: string;
      user: { id: string; name: string };
    }>();
    expectTypeOf<ChatClient['system']['health']['query']>().returns.resolves.toEqualTypeOf<{ uptimeMs: number; nodeId: string }>();
  });

  it('types the connection state as the shared union', () => {
    expectTypeOf<HeraldClient<AppRouter>['connection']['current']>().toEqualTypeOf<ConnectionState>();
    expectTypeOf<ConnectionState['status']>().toEqualTypeOf<'connecting' | 'open' | 'reconnecting' | 'closed'>();
  });
});

/** Compiled by `tsc`, never called: each marked line must fail to type-check. */
async function _doesNotCompile(): Promise<void> {
  const client = createHeraldClient<AppRouter>({ url: 'ws://127.0.0.1:1/ws' });
  const { trpc } = client;

  // @ts-expect-error: there is no procedure chat.sendd
  await trpc.chat.sendd.mutate({ room: 'lobby', text: 'hi' });

  // @ts-expect-error: text must be a string
  await trpc.chat.send.mutate({ room: 'lobby', text: 42 });

  // @ts-expect-error: text is required
  await trpc.chat.send.mutate({ room: 'lobby' });

  // @ts-expect-error: chat.history is a query, so it has no mutate
  await trpc.chat.history.mutate({ room: 'lobby' });

  // @ts-expect-error: system.health is a query, so it has no subscribe
  trpc.system.health.subscribe(undefined, {});

  // The error type carries the formatter's extra data.
  const error = null as unknown as TRPCClientError<AppRouter>;
  expectTypeOf(error.data?.zodIssues).toEqualTypeOf<{ readonly code: string; readonly path: readonly PropertyKey[]; readonly message: string }[] | null | undefined>();
  // @ts-expect-error: the formatter adds no field of this name
  void error.data?.zodIssue;

  await client.close();
}
