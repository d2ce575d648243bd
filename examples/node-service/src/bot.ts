import { createHeraldClient, type HeraldClient } from '@herald/client';
// Only the router's type crosses the process boundary; no server code is imported.
import type { AppRouter } from '@herald/example-chat-server';
import { refreshingCredentials } from './credentials.js';

export interface EchoBotOptions {
  /** The chat server's WebSocket URL, or several for failover. */
  url: string | readonly string[];
  room: string;
  /** @default 'echo-bot' */
  name?: string;
  /** Called with each reply the bot sent, and with errors it could not act on. */
  onReply?: (text: string) => void;
  onError?: (error: unknown) => void;
}

export interface EchoBot {
  readonly userId: string;
  close(): Promise<void>;
}

/** What the bot answers to a message text, or null if it stays quiet. */
export function replyTo(text: string, now: () => Date = () => new Date()): string | null {
  const trimmed = text.trim();
  if (trimmed === '/time') return `The time is ${now().toISOString()}`;
  const echo = /^\/echo\s+([\s\S]+)$/.exec(trimmed);
  return echo?.[1] ? echo[1] : null;
}

/**
 * A service that joins a room as a bot: logs in, subscribes with resume, and
 * answers `/echo <text>` and `/time` with `chat.send`. Its token is
 * refreshed in-band before it expires (`auth.refresh`), so it runs for as
 * long as the server does; a token the server refuses is reported to `onError`.
 */
export async function startEchoBot(options: EchoBotOptions): Promise<EchoBot> {
  const onError = options.onError ?? ((error: unknown) => console.error('[echo-bot]', error));

  const anonymous = createHeraldClient<AppRouter>({ url: options.url });
  let session: Awaited<ReturnType<HeraldClient<AppRouter>['trpc']['auth']['login']['mutate']>>;
  try {
    session = await anonymous.trpc.auth.login.mutate({ name: options.name ?? 'echo-bot' });
  } finally {
    await anonymous.close();
  }

  const urls = typeof options.url === 'string' ? [options.url] : options.url;
  const client = createHeraldClient<AppRouter>({
    url: options.url,
    connectionParams: refreshingCredentials({ urls, token: session.token, onRefused: onError }),
    onRefreshError: onError,
  });
  const subscription = client.trpc.chat.onMessage.subscribe(
    { room: options.room },
    {
      onData: ({ data: event }) => {
        if (event.type !== 'message' || event.message.author.id === session.user.id) return;
        const reply = replyTo(event.message.text);
        if (reply === null) return;
        client.trpc.chat.send.mutate({ room: options.room, text: reply }).then(
          () => options.onReply?.(reply),
          onError,
        );
      },
      onError,
    },
  );

  return {
    userId: session.user.id,
    async close() {
      subscription.unsubscribe();
      await client.close();
    },
  };
}
