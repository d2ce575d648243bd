import type { FoundConnection } from '@herald/server';
import { formatBytes, formatTime } from '../format.js';
import { TableScroll } from './TableScroll.js';

/**
 * Connections as the lookup and a channel's detail list them: node and id,
 * transport, user, address, connected-since, subscriptions and bytes; with
 * `onRevoke`, a button per user that ends their sessions.
 */
export function ConnectionsTable({
  label,
  connections,
  onRevoke,
}: {
  /** The table's accessible name. */
  label: string;
  connections: readonly FoundConnection[];
  onRevoke?: (userKey: string) => void;
}) {
  return (
    <TableScroll label={label}>
      <table aria-label={label}>
        <thead>
          <tr>
            <th scope="col">Connection</th>
            <th scope="col">Transport</th>
            <th scope="col">User</th>
            <th scope="col">Address</th>
            <th scope="col">Connected since</th>
            <th scope="col">Subscriptions</th>
            <th scope="col" className="number">Bytes in / out</th>
            {onRevoke ? <th scope="col">Action</th> : null}
          </tr>
        </thead>
        <tbody>
          {connections.map((connection) => (
            <tr key={`${connection.nodeId}/${connection.connectionId}`} data-connection={`${connection.nodeId}/${connection.connectionId}`}>
              <th scope="row" className="mono">
                {connection.nodeId}/{connection.connectionId}
              </th>
              <td data-column="transport">{connection.transport === 'websocket' ? 'WebSocket' : 'HTTP event stream'}</td>
              <td data-column="user">
                {connection.displayName ? (
                  <>
                    {connection.displayName} <span className="mono muted">({connection.userKey})</span>
                  </>
                ) : (
                  (connection.userKey ?? 'anonymous')
                )}
              </td>
              <td className="mono">{connection.address}</td>
              <td>{formatTime(connection.connectedAt)}</td>
              <td data-column="subscriptions">{subscriptionsText(connection)}</td>
              <td className="number" data-column="bytes">
                {formatBytes(connection.bytesIn)} / {formatBytes(connection.bytesOut)}
              </td>
              {onRevoke ? (
                <td>
                  {connection.userKey ? (
                    <button type="button" className="button button--danger" onClick={() => onRevoke(connection.userKey as string)}>
                      Revoke {connection.userKey}
                    </button>
                  ) : (
                    '–'
                  )}
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}

/** Its subscriptions' procedure paths, and the channel topics they deliver. */
function subscriptionsText({ subscriptions, topics }: FoundConnection): string {
  if (subscriptions.length === 0) return 'none';
  return subscriptions.join(', ') + (topics.length > 0 ? ` (${topics.join(', ')})` : '');
}
