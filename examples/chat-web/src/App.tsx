import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { QueryClient } from '@tanstack/react-query';
import { createHeraldClient, httpUrlOf, type HeraldClient } from '@herald/client';
import { httpTransport } from '@herald/client/http';
import { indexedDbStorage } from '@herald/client/indexeddb';
import { createPersistence } from '@herald/client/persistence';
import type { AppRouter } from '@herald/example-chat-server';
import { HeraldProvider } from './herald.js';
import { ConnectionBanner } from './components/ConnectionBanner.js';
import { ChatScreen } from './components/ChatScreen.js';
import { Login } from './components/Login.js';
import { refusedAtConnect, SessionStore } from './lib/session.js';
import { fetchFreshToken, refusesCredentials, SESSION_ENDED, sessionCredentials } from './lib/sessionToken.js';
import type { Session } from './lib/types.js';

/** The chat server's WebSocket: same host as the page, path `/ws`. */
export function serverUrl(location: Pick<Location, 'protocol' | 'host'> = window.location): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
}

interface Connection {
  readonly userId: string | null;
  readonly client: HeraldClient<AppRouter>;
  readonly queryClient: QueryClient;
}

/**
 * One Herald client per signed-in user: logging in or out starts a new
 * client (and a fresh cache). Its `connectionParams` is a function over the
 * session store, so the client refreshes the token in-band before it expires
 * (same socket, same subscriptions) and every reconnect dials with the newest
 * one. A session that cannot go on (its token refused at connect or on
 * refresh: it expired, or the server now signs with another secret) ends:
 * `onEnded` runs.
 */
function useConnection(sessions: SessionStore, userId: string | null, onEnded: (reason: string) => void): Connection | null {
  const [connection, setConnection] = useState<Connection | null>(null);
  const ended = useRef(onEnded);
  useEffect(() => {
    ended.current = onEnded;
  });
  useEffect(() => {
    // A refresh still out when this client closes must not end the next user's session.
    let active = true;
    const end = (reason: string) => {
      if (active) ended.current(reason);
    };
    const credentials = sessionCredentials({
      sessions,
      refresh: (token) => fetchFreshToken(httpUrlOf(serverUrl()), token),
      onRefused: end,
    });
    const client = createHeraldClient<AppRouter>({
      url: serverUrl(),
      // WebSocket when the network lets it through; behind a proxy that strips
      // upgrades, HTTP with Server-Sent Events (same port, `/trpc`), moving
      // back to the WebSocket when an upgrade gets through again.
      transport: 'auto',
      http: httpTransport,
      // Binary WebSocket frames: an image travels as its bytes (MessagePack `bin`), not as base64 text.
      encoding: 'msgpack',
      connectionParams: userId ? credentials : null,
      // The server refused the refreshed token: the connection ends at expiry, and
      // a token it refuses now it refuses then. Other failures (a limit) wait for that reconnect.
      onRefreshError: (error) => {
        if (refusesCredentials(error)) end(SESSION_ENDED);
        else console.warn('[chat] token refresh failed; retrying when the connection renews', error);
      },
      // Quick first retries, then at most every 5 s: a person is watching.
      backoff: { initialDelayMs: 300, maxDelayMs: 5_000 },
      // Signed in: messages written go through an outbox in IndexedDB (one per
      // user), so a reload or a closed tab neither loses nor doubles them, and
      // rooms resume from their stored position (docs/outbox.md).
      ...(userId ? { persistence: createPersistence(indexedDbStorage({ database: `herald-chat:${userId}` })) } : {}),
    });
    const queryClient = new QueryClient({
      defaultOptions: {
        // The subscription keeps the room current; queries refetch on purpose (first live, gap), not on focus.
        queries: { staleTime: Infinity, refetchOnWindowFocus: false, retry: 2 },
        mutations: { retry: false },
      },
    });
    const stopWatching = client.connection.subscribe((next) => {
      if (userId && refusedAtConnect(next)) end(SESSION_ENDED);
    });
    // The client is an external resource this effect makes and closes; state hands it to the render.
    setConnection({ userId, client, queryClient });
    return () => {
      active = false;
      stopWatching();
      queryClient.clear();
      void client.close();
    };
  }, [sessions, userId]);
  return connection?.userId === userId ? connection : null;
}

export function App() {
  const [sessions] = useState(() => new SessionStore());
  const session = useSyncExternalStore(sessions.subscribe, () => sessions.current);
  const [notice, setNotice] = useState<string | null>(null);

  const signIn = useCallback(
    (next: Session) => {
      setNotice(null);
      sessions.set(next);
    },
    [sessions],
  );
  const signOut = useCallback(
    (reason: string | null) => {
      setNotice(reason);
      sessions.set(null);
    },
    [sessions],
  );
  const connection = useConnection(sessions, session?.user.id ?? null, signOut);

  if (!connection) return null;
  return (
    <HeraldProvider client={connection.client} queryClient={connection.queryClient}>
      <ConnectionBanner />
      {session ? <ChatScreen session={session} onSignOut={signOut} /> : <Login notice={notice} onLogin={signIn} />}
    </HeraldProvider>
  );
}
