/**
 * What the chat demo's tests (and the node-service bot's) add to
 * `@herald/test-kit`: the chat server on a free port, a logged-in session,
 * and clients and room recordings typed with the demo's `AppRouter`.
 */
import type { TRPCClient, TRPCClientError } from '@trpc/client';
import type { ChannelEvent } from '@herald/shared';
import { startChatServer, type AppRouter, type ChatServer, type ChatServerOptions, type Message } from '@herald/example-chat-server';
import {
  makeClient,
  recordChannel,
  stockClient,
  type ChannelSubscription,
  type ClientKind,
  type ConnectionParams,
  type TestClient,
  type TestClientOptions,
} from '@herald/test-kit';

export type ChatTrpc = TRPCClient<AppRouter>;
export type ChatError = TRPCClientError<AppRouter>;
export type ChatClient = TestClient<AppRouter>;
export type RoomEvent = ChannelEvent<Message>;
export type RoomSubscription = ChannelSubscription<Message>;

/** A chat server on a free local port. */
export function startTestServer(options: ChatServerOptions = {}): Promise<ChatServer> {
  return startChatServer({ port: 0, host: '127.0.0.1', ...options });
}

/** A chat client of either kind. */
export function chatClient(kind: ClientKind, url: string, connectionParams?: ConnectionParams, options?: TestClientOptions): ChatClient {
  return makeClient<AppRouter>(kind, url, connectionParams, options);
}

/** Logs in as `name` on a throwaway stock client and returns the session. */
export async function loginToken(url: string, name = 'tester'): Promise<{ token: string; user: { id: string; name: string } }> {
  const client = stockClient<AppRouter>(url);
  try {
    return await client.trpc.auth.login.mutate({ name });
  } finally {
    await client.close();
  }
}

/** Subscribes to `chat.onMessage` for `room` and records what arrives. */
export function subscribeRoom(trpc: ChatTrpc, room: string): RoomSubscription {
  return recordChannel<Message>((handlers) => trpc.chat.onMessage.subscribe({ room }, handlers));
}
