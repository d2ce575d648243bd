import { useCallback, useEffect, useRef, useState } from 'react';
import { QueryClient } from '@tanstack/react-query';
import { createHeraldClient, type HeraldClient } from '@herald/client';
import { httpTransport } from '@herald/client/http';
import type { AppRouter } from '@herald/example-chat-server';
import { HeraldProvider } from './herald.js';
import { ConnectionBanner } from './components/ConnectionBanner.js';
import { ChatScreen } from './components/ChatScreen.js';
import { Login } from './components/Login.js';
import { loadSession, refusedAtConnect, saveSession } from './lib/session.js';
import type { Session } from './lib/types.js';

/** The chat server's WebSocket: same host as the page, path `/ws`. */
export function serverUrl(location: Pick<Location, 'protocol' | 'host'> = window.location): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
}

interface Connection {
  readonly token: string | null;
  readonly client: HeraldClient<AppRouter>;
  readonly queryClient: QueryClient;
}

/**
 * One Herald client per session: the server reads the token once per
 * connection, so logging in or out starts a new client (and a fresh cache).
 * A token the server refuses at connect (expired, or signed with another
 * secret) ends the session: `onRefused` runs.
 */
function useConnection(token: string | null, onRefused: (reason: string) => void): Connection | null {
  const [connection, setConnection] = useState<Connection | null>(null);
  const refused = useRef(onRefused);
  useEffect(() => {
    refused.current = onRefused;
  });
  useEffect(() => {
    const client = createHeraldClient<AppRouter>({
      url: serverUrl(),
      // WebSocket when the network lets it through; behind a proxy that strips
      // upgrades, HTTP with Server-Sent Events (same port, `/trpc`), moving
      // back to the WebSocket when an upgrade gets through again.
      transport: 'auto',
      http: httpTransport,
      connectionParams: token ? { token } : null,
      // Quick first retries, then at most every 5 s: a person is watching.
      backoff: { initialDelayMs: 300, maxDelayMs: 5_000 },
    });
    const queryClient = new QueryClient({
      defaultOptions: {
        // The subscription keeps the room current; queries refetch on purpose (first live, gap), not on focus.
        queries: { staleTime: Infinity, refetchOnWindowFocus: false, retry: 2 },
        mutations: { retry: false },
      },
    });
    const stopWatching = client.connection.subscribe((next) => {
      if (token && refusedAtConnect(next)) refused.current('Your session is no longer valid. Please log in again.');
    });
    // The client is an external resource this effect makes and closes; state hands it to the render.
    // eslint-disable-next-line react-hooks/set-state-in-effect
    setConnection({ token, client, queryClient });
    return () => {
      stopWatching();
      queryClient.clear();
      void client.close();
    };
  }, [token]);
  return connection?.token === token ? connection : null;
}

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const [notice, setNotice] = useState<string | null>(null);

  const signIn = useCallback((next: Session) => {
    saveSession(next);
    setNotice(null);
    setSession(next);
  }, []);
  const signOut = useCallback((reason: string | null) => {
    saveSession(null);
    setNotice(reason);
    setSession(null);
  }, []);
  const connection = useConnection(session?.token ?? null, signOut);

  if (!connection) return null;
  return (
    <HeraldProvider client={connection.client} queryClient={connection.queryClient}>
      <ConnectionBanner />
      {session ? <ChatScreen session={session} onSignOut={signOut} /> : <Login notice={notice} onLogin={signIn} />}
    </HeraldProvider>
  );
}
