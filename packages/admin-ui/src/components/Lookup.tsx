import { useId, useImperativeHandle, useRef, useState, type FormEvent, type Ref } from 'react';
import type { HeraldClient } from '@herald/client';
import type { AdminRouter, FoundConnection } from '@herald/server';
import { ConnectionsTable } from './ConnectionsTable.js';

/** The browser's clock, read in event handlers only (the server's `connectedAt` is compared with it). */
const clockNow = (): number => Date.now();

type Result = { readonly query: string; readonly connections: readonly FoundConnection[] } | null;

/** What the rest of the page may ask of the lookup (a node's "Browse" button). */
export interface LookupHandle {
  /** Runs `query` as if typed, and moves focus to the results. */
  lookFor(query: string): void;
}

/**
 * Looks connections up on every node, WebSockets and HTTP event streams, by
 * id or user key, or a prefix of either (`c1`, `u_3f`), or any part of the
 * user's display name (`lovelace`); `<node>/` lists one node's connections
 * and `*` everyone's. Revokes a user's sessions, then looks again.
 */
export function Lookup({ client, ref }: { client: HeraldClient<AdminRouter>; ref?: Ref<LookupHandle> }) {
  const inputId = useId();
  const [query, setQuery] = useState('');
  const [result, setResult] = useState<Result>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const find = async (wanted: string): Promise<readonly FoundConnection[] | null> => {
    try {
      const connections = await client.trpc.lookup.query({ query: wanted });
      setResult({ query: wanted, connections });
      return connections;
    } catch (error) {
      setMessage(`Lookup failed: ${error instanceof Error ? error.message : String(error)}`);
      return null;
    }
  };

  const section = useRef<HTMLElement>(null);
  useImperativeHandle(ref, () => ({
    lookFor(wanted) {
      setQuery(wanted);
      setMessage(null);
      void find(wanted);
      section.current?.focus();
    },
  }));

  const lookUp = async (event: FormEvent) => {
    event.preventDefault();
    const wanted = query.trim();
    if (!wanted) return;
    setBusy(true);
    setMessage(null);
    await find(wanted);
    setBusy(false);
  };

  const revoke = async (userKey: string) => {
    if (!window.confirm(`End every session of ${userKey} on every node? Their app must also refuse their credentials, or they reconnect.`)) return;
    try {
      const revokedAt = clockNow();
      await client.trpc.revoke.mutate({ userKey });
      setMessage(`Revoked the sessions of ${userKey}. Looking again…`);
      // The table is refreshed at once: what it shows now is after the revoke, and says whether the user came back.
      const after = result ? await find(result.query) : null;
      if (after) {
        const back = after.filter((connection) => connection.userKey === userKey && connection.connectedAt >= revokedAt).length;
        const left = after.filter((connection) => connection.userKey === userKey && connection.connectedAt < revokedAt).length;
        setMessage(
          `Revoked the sessions of ${userKey}. ${back === 0 ? 'They have not reconnected.' : `They reconnected: ${back} new connection${back === 1 ? '' : 's'}, shown below.`}` +
            (left > 0 ? ` ${left} older connection${left === 1 ? ' is' : 's are'} still closing.` : ''),
        );
      }
    } catch (error) {
      setMessage(`Revoke failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  return (
    <section aria-labelledby={`${inputId}-title`} className="card" ref={section} tabIndex={-1}>
      <h2 id={`${inputId}-title`}>Look up a connection or user</h2>
      <form onSubmit={lookUp} className="lookup__form">
        <label htmlFor={inputId}>Name, user key or connection id</label>
        <input
          id={inputId}
          value={query}
          onChange={(event) => setQuery(event.target.value)}
          placeholder="Ada, u_3f, c12, node-a/ or *"
          aria-describedby={`${inputId}-hint`}
        />
        <button type="submit" className="button" disabled={busy}>
          Look up
        </button>
        <button
          type="button"
          className="button button--quiet"
          disabled={busy}
          onClick={() => {
            setQuery('*');
            setMessage(null);
            void find('*');
          }}
        >
          List all
        </button>
        <p id={`${inputId}-hint`} className="lookup__hint">
          Any part of a display name, or the first characters of a user key or connection id (<code>c</code> WebSocket, <code>h</code> HTTP event
          stream); <code>node-a/</code> lists one node’s connections, <code>*</code> every node’s (50 per node at most).
        </p>
      </form>
      {message ? <p role="status">{message}</p> : null}
      {result ? (
        result.connections.length === 0 ? (
          <p role="status">No connection matches “{result.query}”.</p>
        ) : (
          <ConnectionsTable label={`Connections matching ${result.query}`} connections={result.connections} onRevoke={(userKey) => void revoke(userKey)} />
        )
      ) : null}
    </section>
  );
}
