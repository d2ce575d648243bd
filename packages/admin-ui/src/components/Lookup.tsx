import { useId, useState, type FormEvent } from 'react';
import type { HeraldClient } from '@herald/client';
import type { AdminRouter, FoundConnection } from '@herald/server';
import { formatTime } from '../format.js';

type Result = { readonly query: string; readonly connections: readonly FoundConnection[] } | null;

/** Looks connections up by id (`c12`, `<node>/c12`) or user key on every node, and revokes a user's sessions. */
export function Lookup({ client }: { client: HeraldClient<AdminRouter> }) {
  const inputId = useId();
  const [query, setQuery] = useState('');
  const [result, setResult] = useState<Result>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const lookUp = async (event: FormEvent) => {
    event.preventDefault();
    const wanted = query.trim();
    if (!wanted) return;
    setBusy(true);
    setMessage(null);
    try {
      setResult({ query: wanted, connections: await client.trpc.lookup.query({ query: wanted }) });
    } catch (error) {
      setMessage(`Lookup failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (userKey: string) => {
    if (!window.confirm(`End every session of ${userKey} on every node? Their app must also refuse their credentials, or they reconnect.`)) return;
    try {
      await client.trpc.revoke.mutate({ userKey });
      setMessage(`Revoked the sessions of ${userKey}.`);
    } catch (error) {
      setMessage(`Revoke failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  return (
    <section aria-labelledby={`${inputId}-title`} className="card">
      <h2 id={`${inputId}-title`}>Look up a connection or user</h2>
      <form onSubmit={lookUp} className="lookup__form">
        <label htmlFor={inputId}>Connection id or user</label>
        <input id={inputId} value={query} onChange={(event) => setQuery(event.target.value)} placeholder="c12, node-a/c12 or a user key" />
        <button type="submit" className="button" disabled={busy}>
          Look up
        </button>
      </form>
      {message ? <p role="status">{message}</p> : null}
      {result ? (
        result.connections.length === 0 ? (
          <p>No connection matches “{result.query}”.</p>
        ) : (
          <div className="table-scroll">
            <table aria-label={`Connections matching ${result.query}`}>
              <thead>
                <tr>
                  <th scope="col">Connection</th>
                  <th scope="col">User</th>
                  <th scope="col">Address</th>
                  <th scope="col">Connected</th>
                  <th scope="col">Subscriptions</th>
                  <th scope="col">Action</th>
                </tr>
              </thead>
              <tbody>
                {result.connections.map((connection) => (
                  <tr key={`${connection.nodeId}/${connection.connectionId}`}>
                    <th scope="row" className="mono">
                      {connection.nodeId}/{connection.connectionId}
                    </th>
                    <td>{connection.userKey ?? 'anonymous'}</td>
                    <td className="mono">{connection.address}</td>
                    <td>{formatTime(connection.connectedAt)}</td>
                    <td>{connection.subscriptions.length === 0 ? 'none' : connection.subscriptions.join(', ')}</td>
                    <td>
                      {connection.userKey ? (
                        <button type="button" className="button button--danger" onClick={() => void revoke(connection.userKey as string)}>
                          Revoke {connection.userKey}
                        </button>
                      ) : (
                        '–'
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      ) : null}
    </section>
  );
}
