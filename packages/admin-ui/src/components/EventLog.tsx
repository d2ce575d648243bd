import { useId, useState } from 'react';
import type { AdminEvent, ServerEventKind } from '@herald/server';
import { formatClock, formatCount } from '../format.js';
import { TableScroll } from './TableScroll.js';

const KIND_TEXT: Record<ServerEventKind, string> = {
  connect: 'Connected',
  refusal: 'Refused',
  revocation: 'Revoked',
  'slow-consumer': 'Slow consumer closed',
};

const FILTERS: readonly { readonly value: ServerEventKind | 'all'; readonly label: string }[] = [
  { value: 'all', label: 'Everything' },
  { value: 'connect', label: 'Connects' },
  { value: 'refusal', label: 'Refusals' },
  { value: 'revocation', label: 'Revocations' },
  { value: 'slow-consumer', label: 'Slow consumers' },
];

const COLUMNS = ['Time', 'Node', 'Event', 'Reason', 'User', 'Connection', 'Address'] as const;

/**
 * The cluster's latest events, newest first: connects, refusals by reason,
 * revocations and slow-consumer closes, each with its node, as the nodes'
 * snapshots bring them (one interval late at most).
 */
export function EventLog({ events, lost }: { events: readonly AdminEvent[]; lost: number }) {
  const titleId = useId();
  const filterId = useId();
  const [kind, setKind] = useState<ServerEventKind | 'all'>('all');
  const shown = kind === 'all' ? events : events.filter((event) => event.kind === kind);
  return (
    <section aria-labelledby={titleId} className="card">
      <h2 id={titleId}>Event log</h2>
      <div className="event-log__filter">
        <label htmlFor={filterId}>Show</label>
        <select id={filterId} value={kind} onChange={(event) => setKind(event.target.value as ServerEventKind | 'all')}>
          {FILTERS.map((filter) => (
            <option key={filter.value} value={filter.value}>
              {filter.label}
            </option>
          ))}
        </select>
        {lost > 0 ? <span className="tag tag--warn">{formatCount(lost)} events not kept (a burst over a node’s log)</span> : null}
      </div>
      {shown.length === 0 ? (
        <p className="placeholder">No {kind === 'all' ? 'events' : FILTERS.find((filter) => filter.value === kind)?.label.toLowerCase()} yet.</p>
      ) : (
        <TableScroll label="Event log table">
          <table aria-labelledby={titleId}>
            <thead>
              <tr>
                {COLUMNS.map((column) => (
                  <th key={column} scope="col">
                    {column}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {shown.map((event, index) => (
                <tr key={`${event.nodeId}-${event.at}-${index}`} data-event={event.kind}>
                  <td>{formatClock(event.at)}</td>
                  <td className="mono">{event.nodeId}</td>
                  <th scope="row">{KIND_TEXT[event.kind]}</th>
                  <td className="mono">{event.reason ?? '–'}</td>
                  <td>{event.userKey ?? '–'}</td>
                  <td className="mono">
                    {event.connectionId ?? '–'}
                    {event.transport === 'http-stream' ? ' (HTTP)' : null}
                  </td>
                  <td className="mono">{event.address ?? '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
    </section>
  );
}
