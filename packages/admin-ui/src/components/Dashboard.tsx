import { useEffect, useRef } from 'react';
import type { ConnectionState } from '@herald/client';
import { useAdminLink } from '../adminLink.js';
import { formatClock, formatCount, formatRate } from '../format.js';
import { ChannelDetail, type ChannelDetailHandle } from './ChannelDetail.js';
import { ChannelsTable } from './ChannelsTable.js';
import { EventLog } from './EventLog.js';
import { Lookup, type LookupHandle } from './Lookup.js';
import { NodesTable } from './NodesTable.js';
import { RateCharts } from './RateCharts.js';

const STATUS_TEXT: Record<ConnectionState['status'], string> = {
  connecting: 'Connecting…',
  open: 'Live',
  reconnecting: 'Reconnecting…',
  closed: 'Disconnected',
};

/** The live figures of the cluster, streamed over the admin socket. */
export function Dashboard({ token, onRefused }: { token: string; onRefused: (message: string) => void }) {
  const { client, state, view, samples } = useAdminLink(token);
  const lookup = useRef<LookupHandle>(null);
  const channel = useRef<ChannelDetailHandle>(null);
  const showChannel = (topic: string) => channel.current?.show(topic);

  useEffect(() => {
    if (state.status === 'closed' && state.refusal) onRefused('The server refused this admin token. Check it and try again.');
  }, [state, onRefused]);

  // Figures older than the link: kept on screen, but greyed, in italics and dated, until the link is back.
  const stale = view !== null && state.status !== 'open';
  return (
    <main className="dashboard">
      <p role="status" data-connection={state.status} className={`banner banner--${state.status}`}>
        {STATUS_TEXT[state.status]}
        {stale ? ` (figures below are from ${formatClock(view.at)}, before the link dropped)` : null}
      </p>
      {view ? (
        <div className={`figures${stale ? ' figures--stale' : ''}`} data-stale={stale || undefined}>
          <section aria-labelledby="totals-title" className="totals">
            <h2 id="totals-title" className="visually-hidden">
              Totals
            </h2>
            <dl className="totals__list">
              <Total label="Nodes" value={formatCount(view.nodes.length)} />
              <Total label="Connections" value={formatCount(view.totals.connections)} />
              <Total label="Subscriptions" value={formatCount(view.totals.subscriptions)} />
              <Total label="Published per second" value={formatRate(view.totals.rates.published)} />
              <Total label="Delivered per second" value={formatRate(view.totals.rates.delivered)} />
            </dl>
            <p className="totals__broker">Broker: {view.broker}</p>
          </section>
          <RateCharts samples={samples} refusals={view.totals.rates.refusals} />
          <NodesTable nodes={view.nodes} onBrowse={(nodeId) => lookup.current?.lookFor(`${nodeId}/`)} />
          <div className="channels">
            <ChannelsTable title="Busiest channels by subscribers" channels={view.channelsBySubscribers} onDetail={showChannel} />
            <ChannelsTable title="Busiest channels by messages per second" channels={view.channelsByMessages} onDetail={showChannel} />
          </div>
          <EventLog events={view.events} lost={view.eventsLost} />
        </div>
      ) : (
        <p className="placeholder">Waiting for the first figures…</p>
      )}
      <Lookup client={client} ref={lookup} />
      <ChannelDetail client={client} ref={channel} />
    </main>
  );
}

function Total({ label, value }: { label: string; value: string }) {
  return (
    <div className="totals__item" data-total={label}>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}
