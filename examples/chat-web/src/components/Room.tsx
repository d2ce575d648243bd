import { useEffect, useRef, type Dispatch } from 'react';
import { useQuery } from '@tanstack/react-query';
import { useChannel, usePresence, useTRPC, useTRPCClient } from '../herald.js';
import type { ChatAction } from '../lib/chatState.js';
import type { MessageLog } from '../lib/messages.js';
import type { User } from '../lib/types.js';
import type { Unsent } from '../lib/unsent.js';
import { Composer } from './Composer.js';
import { Members } from './Members.js';
import { MessageList } from './MessageList.js';

interface Props {
  room: string;
  me: User;
  log: MessageLog;
  unsent: readonly Unsent[];
  online: boolean;
  dispatch: Dispatch<ChatAction>;
  onRetry: (key: string) => void;
  onDiscard: (key: string) => void;
}

/**
 * One room: its history, then live messages (resumed after every reconnect,
 * and after a reload from the position the client stored), who is here, and
 * the composer. History is fetched on open, again once the subscription is
 * live (so nothing published in between is missed), and again after a gap
 * notice. A message written goes to the client's outbox (see unsent.ts).
 */
export function Room({ room, me, log, unsent, online, dispatch, onRetry, onDiscard }: Props) {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const history = useQuery(trpc.chat.history.queryOptions({ room, limit: 100 }));
  const { refetch } = history;

  useEffect(() => {
    if (history.data) dispatch({ type: 'received', room, messages: history.data });
  }, [history.data, room, dispatch]);

  const sawLive = useRef(false);
  const channel = useChannel(trpc.chat.onMessage.subscriptionOptions({ room }), {
    onMessage: (message) => dispatch({ type: 'received', room, messages: [message] }),
    onLive: () => {
      if (sawLive.current) return;
      sawLive.current = true;
      void refetch();
    },
    onGap: () => void refetch(),
  });
  const presence = usePresence(trpc.chat.onPresence.subscriptionOptions({ room }));

  const loading = history.isPending && log.list.length === 0;
  return (
    <main className="room" aria-labelledby="room-title">
      <header className="room__header">
        <h1 id="room-title" className="room__title">
          <span aria-hidden="true">#</span>
          {room}
        </h1>
        <p className="room__meta" data-channel-status={channel.status}>
          {channel.status === 'error' ? (
            <>
              <span className="room__error">Lost this room’s live updates.</span>{' '}
              <button
                type="button"
                className="button button--small"
                onClick={() => {
                  channel.retry();
                  void refetch();
                }}
              >
                Retry
              </button>
            </>
          ) : (
            <PresenceSummary count={new Set(presence.members.map((member) => member.info.id)).size} live={presence.status === 'live'} />
          )}
        </p>
      </header>
      <div className="room__body">
        <MessageList
          room={room}
          me={me}
          log={log}
          unsent={unsent}
          loading={loading}
          error={history.isError && log.list.length === 0}
          onRetry={onRetry}
          onDiscard={onDiscard}
        />
        <Members members={presence.members} me={me} stale={presence.status !== 'live'} />
      </div>
      <Composer
        room={room}
        online={online}
        // Its outcome comes through the outbox (ChatScreen), also after a reload.
        onSend={(text) => void client.chat.send.mutate({ room, text }).catch(() => undefined)}
      />
    </main>
  );
}

function PresenceSummary({ count, live }: { count: number; live: boolean }) {
  if (!live && count === 0) return <span className="muted">Checking who’s here…</span>;
  return (
    <span className="presence-summary">
      <span className="dot dot--online" aria-hidden="true" />
      {count === 1 ? '1 person here' : `${count} people here`}
    </span>
  );
}
