import { useId } from 'react';
import type { ChannelView } from '@herald/server';
import { formatCount, formatRate } from '../format.js';
import { TableScroll } from './TableScroll.js';

/** A list of topics with their figures over the whole cluster. */
export function ChannelsTable({ title, channels, onDetail }: { title: string; channels: readonly ChannelView[]; onDetail: (topic: string) => void }) {
  const titleId = useId();
  return (
    <section aria-labelledby={titleId} className="card">
      <h2 id={titleId}>{title}</h2>
      {channels.length === 0 ? (
        <p className="placeholder">None right now.</p>
      ) : (
        <TableScroll label={`${title} table`}>
          <table aria-labelledby={titleId}>
            <thead>
              <tr>
                <th scope="col">Topic</th>
                <th scope="col" className="number">Subscribers</th>
                <th scope="col" className="number">Messages/s</th>
                <th scope="col" className="number">History</th>
                <th scope="col" className="number">Presence</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {channels.map((channel) => (
                <tr key={channel.topic} data-topic={channel.topic}>
                  <th scope="row" className="mono">
                    {channel.topic}
                  </th>
                  <td className="number" data-column="subscribers">
                    {formatCount(channel.subscribers)}
                  </td>
                  <td className="number">{formatRate(channel.messagesPerSecond)}</td>
                  <td className="number">{channel.historyLength === null ? '–' : formatCount(channel.historyLength)}</td>
                  <td className="number">{channel.presence === null ? '–' : formatCount(channel.presence)}</td>
                  <td>
                    <button type="button" className="button button--quiet" onClick={() => onDetail(channel.topic)}>
                      Details of {channel.topic}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
    </section>
  );
}
