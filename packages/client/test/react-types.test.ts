import { describe, expectTypeOf, it } from 'vitest';
import { skipToken } from '@tanstack/react-query';
import type { ConnectionState, GapReason, PresenceMember } from '@herald/client';
import {
  createHeraldReact,
  useChannel,
  usePresence,
  type ChannelState,
  type GapNotice,
  type PresenceState,
  type SubscriptionStatus,
} from '@herald/client/react';
// The client package has no dependency on the example app, so its router type is imported by path.
import type { AppRouter } from '../../../examples/chat-server/src/index.js';
import type { ExpectedMessage } from './expectedTypes.js';

interface ExpectedUser {
  id: string;
  name: string;
}

const chat = createHeraldReact<AppRouter>();
type Trpc = ReturnType<typeof chat.useTRPC>;
type OnMessageSource = ReturnType<Trpc['chat']['onMessage']['subscriptionOptions']>;
type OnPresenceSource = ReturnType<Trpc['chat']['onPresence']['subscriptionOptions']>;

describe('@herald/client/react types', () => {
  it('types useChannel from the router: onMessage gets the Message, onGap the reason', () => {
    const call = (source: OnMessageSource) =>
      useChannel(source, {
        onMessage: (message, id) => {
          expectTypeOf(message).toEqualTypeOf<ExpectedMessage>();
          expectTypeOf(id).toEqualTypeOf<string>();
        },
        onGap: (gap) => {
          expectTypeOf(gap).toEqualTypeOf<GapNotice>();
          expectTypeOf(gap.reason).toEqualTypeOf<GapReason>();
        },
      });
    expectTypeOf(call).returns.toExtend<ChannelState<unknown>>();
    expectTypeOf<ReturnType<typeof call>['status']>().toEqualTypeOf<SubscriptionStatus>();
    expectTypeOf<SubscriptionStatus>().toEqualTypeOf<'idle' | 'connecting' | 'live' | 'reconnecting' | 'error'>();
  });

  it('types usePresence members from the router', () => {
    const call = (source: OnPresenceSource) => usePresence(source);
    expectTypeOf(call).returns.toExtend<PresenceState<ExpectedUser, unknown>>();
    expectTypeOf<ReturnType<typeof call>['members']>().toEqualTypeOf<readonly PresenceMember<ExpectedUser>[]>();
  });

  it('types the connection hook and the tRPC proxy', () => {
    expectTypeOf(chat.useConnectionState).returns.toEqualTypeOf<ConnectionState>();
    expectTypeOf<ReturnType<Trpc['chat']['history']['queryOptions']>['queryKey']>().not.toBeAny();
  });
});

/** Compiled by `tsc`, never called: each marked line must fail to type-check. */
function _doesNotCompile(trpc: Trpc): void {
  // @ts-expect-error: useChannel needs a channel (tracked ChannelEvent) subscription, not presence
  useChannel(trpc.chat.onPresence.subscriptionOptions({ room: 'lobby' }));

  // @ts-expect-error: usePresence needs a presence subscription
  usePresence(trpc.chat.onMessage.subscriptionOptions({ room: 'lobby' }));

  useChannel(trpc.chat.onMessage.subscriptionOptions({ room: 'lobby' }), {
    // @ts-expect-error: messages have no `body`
    onMessage: (message) => message.body,
  });

  // @ts-expect-error: room must be a string
  useChannel(trpc.chat.onMessage.subscriptionOptions({ room: 1 }));

  // skipToken disables it, with the same types
  useChannel(trpc.chat.onMessage.subscriptionOptions(skipToken));
}
void _doesNotCompile;
