import { useId, useImperativeHandle, useRef, useState, type FormEvent, type Ref } from 'react';
import type { HeraldClient } from '@herald/client';
import type { AdminRouter, ChannelDetail as Detail } from '@herald/server';
import { formatClock, formatCount, formatTime } from '../format.js';
import { ConnectionsTable } from './ConnectionsTable.js';
import { TableScroll } from './TableScroll.js';

/** What the rest of the page may ask of the channel detail (a channel table's "Details" button). */
export interface ChannelDetailHandle {
  /** Shows `topic`, and moves focus to the detail. */
  show(topic: string): void;
}

/** A member's or message's value as short, readable text. */
function valueText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * One topic (`<channel>:<key>`) over the cluster: its subscribers on each
 * node, the connections that hold them (50 per node at most, and how many
 * more), its presence members and the newest messages of its history.
 */
export function ChannelDetail({ client, ref }: { client: HeraldClient<AdminRouter>; ref?: Ref<ChannelDetailHandle> }) {
  const inputId = useId();
  const [topic, setTopic] = useState('');
  const [detail, setDetail] = useState<Detail | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const section = useRef<HTMLElement>(null);

  const load = async (wanted: string) => {
    setBusy(true);
    setMessage(null);
    try {
      setDetail(await client.trpc.channel.query({ topic: wanted }));
    } catch (error) {
      setDetail(null);
      setMessage(`Could not read ${wanted}: ${error instanceof Error ? error.message : String(error)}`);
    }
    setBusy(false);
  };

  useImperativeHandle(ref, () => ({
    show(wanted) {
      setTopic(wanted);
      void load(wanted);
      section.current?.focus();
    },
  }));

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const wanted = topic.trim();
    if (wanted) void load(wanted);
  };

  const total = detail ? detail.subscribersByNode.reduce((sum, node) => sum + node.subscribers, 0) : 0;
  return (
    <section aria-labelledby={`${inputId}-title`} className="card" ref={section} tabIndex={-1} data-channel-detail={detail?.topic}>
      <h2 id={`${inputId}-title`}>Channel detail</h2>
      <form onSubmit={submit} className="lookup__form">
        <label htmlFor={inputId}>Topic</label>
        <input id={inputId} value={topic} onChange={(event) => setTopic(event.target.value)} placeholder="chat.room:general" aria-describedby={`${inputId}-hint`} />
        <button type="submit" className="button" disabled={busy}>
          Show
        </button>
        <p id={`${inputId}-hint`} className="lookup__hint">
          A channel’s name, a colon and a key, as the channel tables list them.
        </p>
      </form>
      {message ? <p role="status">{message}</p> : null}
      {detail ? (
        <div className="channel-detail__lists">
          <div>
            <h3 id={`${inputId}-nodes`}>
              Subscribers: {formatCount(total)} on {formatCount(detail.subscribersByNode.filter((node) => node.subscribers > 0).length)} node(s)
            </h3>
            <TableScroll label={`Subscribers of ${detail.topic} per node`}>
              <table aria-labelledby={`${inputId}-nodes`}>
                <thead>
                  <tr>
                    <th scope="col">Node</th>
                    <th scope="col" className="number">Subscribers</th>
                  </tr>
                </thead>
                <tbody>
                  {detail.subscribersByNode.map((node) => (
                    <tr key={node.nodeId} data-node={node.nodeId}>
                      <th scope="row" className="mono">
                        {node.nodeId}
                      </th>
                      <td className="number">{formatCount(node.subscribers)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableScroll>
          </div>
          <div className="channel-detail__wide">
            <h3 id={`${inputId}-connections`}>
              Connections: {formatCount(detail.connections.length)}
              {detail.unlistedSubscribers > 0 ? ` (${formatCount(detail.unlistedSubscribers)} more subscriber(s) not listed)` : null}
            </h3>
            {detail.connections.length === 0 ? (
              <p className="placeholder">No connection holds a subscription to it.</p>
            ) : (
              <ConnectionsTable label={`Connections subscribed to ${detail.topic}`} connections={detail.connections} />
            )}
          </div>
          <div>
            <h3>
              Members: {formatCount(detail.memberCount)}
              {detail.members.length < detail.memberCount ? ` (the first ${formatCount(detail.members.length)} shown)` : null}
            </h3>
            {detail.members.length === 0 ? (
              <p className="placeholder">No presence members.</p>
            ) : (
              <ul data-list="members">
                {detail.members.map((member) => (
                  <li key={member.clientId} className="channel-detail__value">
                    {valueText(member.info)} <span className="muted">since {formatTime(member.joinedAt)}</span>
                  </li>
                ))}
              </ul>
            )}
          </div>
          <div>
            <h3>
              Last messages{detail.historyLength === null ? '' : ` (history holds ${formatCount(detail.historyLength)})`}
            </h3>
            {detail.lastMessages === null ? (
              <p className="placeholder">This node declares no channel of that name, so its history is not read.</p>
            ) : detail.lastMessages.length === 0 ? (
              <p className="placeholder">No messages in its history.</p>
            ) : (
              <ol data-list="messages">
                {detail.lastMessages.map((entry) => (
                  <li key={entry.id} className="channel-detail__value">
                    <span className="muted">{formatClock(entry.publishedAt)}</span> {valueText(entry.message)}
                  </li>
                ))}
              </ol>
            )}
          </div>
        </div>
      ) : null}
    </section>
  );
}
