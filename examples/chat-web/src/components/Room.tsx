import { useCallback, useEffect, useRef, useState, type Dispatch } from 'react';
import { useQuery } from '@tanstack/react-query';
import { useChannel, useHeraldClient, usePresence, useTRPC, useTRPCClient } from '../herald.js';
import type { ChatAction } from '../lib/chatState.js';
import { imageRefusalText, isRecordFailure, recordFailureText } from '../lib/errors.js';
import type { MessageLog } from '../lib/messages.js';
import type { ImageType, User } from '../lib/types.js';
import type { Unsent } from '../lib/unsent.js';
import { Composer } from './Composer.js';
import { Members } from './Members.js';
import { MessageList } from './MessageList.js';

/** Messages per history page: the first load and each "Show older messages" from the server. */
export const HISTORY_PAGE = 100;
/** A live message older than this (a replay after a reconnect) is shown but not announced. */
const ANNOUNCE_WITHIN_MS = 60_000;

interface Props {
  room: string;
  /** Put the caret in the message box when the room opens (right after Join). */
  focusComposer: boolean;
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
 * notice; older pages on demand (`chat.history` with `before`). A message
 * written goes to the client's outbox (see unsent.ts); one the outbox could
 * not even record (storage full) stays here, failed, with its text.
 */
export function Room({ room, focusComposer, me, log, unsent, online, dispatch, onRetry, onDiscard }: Props) {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const history = useQuery(trpc.chat.history.queryOptions({ room, limit: HISTORY_PAGE }));
  const { refetch } = history;
  const [older, setOlder] = useState({ loading: false, exhausted: false });
  const [unrecorded, setUnrecorded] = useState<readonly Unsent[]>([]);
  const [announcement, setAnnouncement] = useState<{ id: string; text: string } | null>(null);

  useEffect(() => {
    if (history.data) dispatch({ type: 'received', room, messages: history.data });
  }, [history.data, room, dispatch]);

  const sawLive = useRef(false);
  const channel = useChannel(trpc.chat.onMessage.subscriptionOptions({ room }), {
    onMessage: (message) => {
      dispatch({ type: 'received', room, messages: [message] });
      if (sawLive.current && message.author.id !== me.id && Date.now() - message.sentAt.getTime() < ANNOUNCE_WITHIN_MS) {
        setAnnouncement({ id: message.id, text: `${message.author.name}: ${message.image ? `sent an image: ${message.image.alt}` : message.text}` });
      }
    },
    onLive: () => {
      if (sawLive.current) return;
      sawLive.current = true;
      void refetch();
    },
    onGap: () => void refetch(),
  });
  const presence = usePresence(trpc.chat.onPresence.subscriptionOptions({ room }));

  const oldestId = log.chunks[0]?.messages[0]?.id;
  const loadOlder = useCallback(() => {
    if (!oldestId) return;
    setOlder({ loading: true, exhausted: false });
    client.chat.history
      .query({ room, limit: HISTORY_PAGE, before: oldestId })
      .then((messages) => {
        dispatch({ type: 'received', room, messages });
        setOlder({ loading: false, exhausted: messages.length < HISTORY_PAGE });
      })
      .catch(() => setOlder({ loading: false, exhausted: false }));
  }, [client, dispatch, oldestId, room]);

  const send = (text: string) => {
    // Its outcome comes through the outbox (ChatScreen), also after a reload; only a failure to record it lands here.
    client.chat.send.mutate({ room, text }).catch((error: unknown) => {
      if (!isRecordFailure(error)) return;
      setUnrecorded((list) => [...list, { key: `unrecorded-${crypto.randomUUID()}`, text, status: 'failed', error: recordFailureText(error) }]);
    });
  };
  const [imageError, setImageError] = useState<string | null>(null);
  const heraldClient = useHeraldClient();
  const sendImage = (file: File, alt: string) => {
    setImageError(null);
    // The bytes go as they are: MessagePack `bin` on the WebSocket, base64 over HTTP. The server checks type and size.
    file
      .arrayBuffer()
      .then((buffer) => client.chat.sendImage.mutate({ room, image: { bytes: new Uint8Array(buffer), type: file.type as ImageType, alt } }))
      .catch((error: unknown) => {
        // With an outbox, the server's refusal comes through `onSettled` below; here only what never reached it.
        if (!heraldClient.outbox || isRecordFailure(error)) setImageError(imageRefusalText(error));
      });
  };
  // A refused image is not kept for a retry (it would be refused again): its reason shows, its outbox entry goes.
  useEffect(
    () =>
      heraldClient.outbox?.onSettled((outcome) => {
        if (outcome.entry.path !== 'chat.sendImage' || outcome.type !== 'error') return;
        setImageError(imageRefusalText(outcome.error));
        void heraldClient.outbox?.discard(outcome.entry.key);
      }),
    [heraldClient],
  );
  const forget = (key: string) => setUnrecorded((list) => list.filter((entry) => entry.key !== key));

  const loading = log.size === 0 && (history.isPending || (history.data?.length ?? 0) > 0);
  const stale = !online || presence.status !== 'live';
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
            <PresenceSummary count={new Set(presence.members.map((member) => member.info.id)).size} live={presence.status === 'live'} stale={stale} />
          )}
        </p>
      </header>
      <div className="room__body">
        <MessageList
          room={room}
          me={me}
          log={log}
          unsent={[...unsent, ...unrecorded]}
          loading={loading}
          error={history.isError && log.size === 0}
          hasOlder={!older.exhausted && log.size >= HISTORY_PAGE}
          loadingOlder={older.loading}
          onLoadOlder={loadOlder}
          onRetry={(key) => {
            const local = unrecorded.find((entry) => entry.key === key);
            if (!local) return onRetry(key);
            forget(key);
            send(local.text);
          }}
          onDiscard={(key) => (unrecorded.some((entry) => entry.key === key) ? forget(key) : onDiscard(key))}
        />
        <Members members={presence.members} me={me} stale={stale} />
      </div>
      {/* New messages from others, one at a time: history and replays fill the list without a word. */}
      <div className="visually-hidden" role="log" aria-live="polite" aria-label={`Latest in #${room}`}>
        {announcement && <p key={announcement.id}>{announcement.text}</p>}
      </div>
      <Composer room={room} online={online} onSend={send} onSendImage={sendImage} imageError={imageError} autoFocus={focusComposer} />
    </main>
  );
}

function PresenceSummary({ count, live, stale }: { count: number; live: boolean; stale: boolean }) {
  if (!live && count === 0) return <span className="muted">Checking who’s here…</span>;
  const people = count === 1 ? '1 person here' : `${count} people here`;
  return (
    <span className={`presence-summary${stale ? ' presence-summary--stale' : ''}`} data-stale={stale || undefined}>
      <span className={`dot ${stale ? 'dot--stale' : 'dot--online'}`} aria-hidden="true" />
      {stale ? `${people} when last connected (may be out of date)` : people}
    </span>
  );
}
