import { useLayoutEffect, useRef } from 'react';
import type { MessageLog } from '../lib/messages.js';
import type { Message, User } from '../lib/types.js';
import type { Unsent } from '../lib/unsent.js';
import { Avatar } from './Avatar.js';

const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const day = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'short', day: 'numeric' });
/** Messages by one author within this window share a header. */
const GROUP_MS = 5 * 60_000;

interface Props {
  room: string;
  me: User;
  log: MessageLog;
  unsent: readonly Unsent[];
  loading: boolean;
  error: boolean;
  onRetry: (key: string) => void;
  onDiscard: (key: string) => void;
}

export function MessageList({ room, me, log, unsent, loading, error, onRetry, onDiscard }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);

  // Stay at the bottom as messages arrive, unless the reader scrolled up.
  useLayoutEffect(() => {
    const element = scroller.current;
    if (element && pinned.current) element.scrollTop = element.scrollHeight;
  }, [log, unsent]);

  const onScroll = () => {
    const element = scroller.current;
    if (element) pinned.current = element.scrollHeight - element.scrollTop - element.clientHeight < 80;
  };

  const empty = log.list.length === 0 && unsent.length === 0;
  return (
    <div className="messages" ref={scroller} onScroll={onScroll}>
      {loading && <p className="messages__empty">Loading messages…</p>}
      {error && <p className="messages__empty">Could not load history. New messages will still appear here.</p>}
      {!loading && !error && empty && (
        <div className="messages__empty">
          <p className="messages__empty-title">This is the start of #{room}</p>
          <p>Say hello. Everyone in the room sees your message as soon as you send it.</p>
        </div>
      )}
      <ol className="messages__list" aria-label={`Conversation in #${room}`} role="log" aria-live="polite">
        {log.list.map((message, index) => (
          <MessageItem key={message.id} message={message} previous={log.list[index - 1]} mine={message.author.id === me.id} />
        ))}
        {unsent.map((entry) => (
          <UnsentItem key={entry.key} entry={entry} me={me} onRetry={onRetry} onDiscard={onDiscard} />
        ))}
      </ol>
    </div>
  );
}

function MessageItem({ message, previous, mine }: { message: Message; previous: Message | undefined; mine: boolean }) {
  const newDay = !previous || previous.sentAt.toDateString() !== message.sentAt.toDateString();
  const grouped = !newDay && previous?.author.id === message.author.id && message.sentAt.getTime() - previous.sentAt.getTime() < GROUP_MS;
  return (
    <>
      {newDay && (
        <li className="day-divider" role="separator">
          <span>{day.format(message.sentAt)}</span>
        </li>
      )}
      <li className={`message${mine ? ' message--mine' : ''}${grouped ? ' message--grouped' : ''}`} data-message-id={message.id}>
        {!grouped && <Avatar name={message.author.name} id={message.author.id} />}
        <div className="message__body">
          {!grouped && (
            <p className="message__meta">
              <span className="message__author">{message.author.name}</span>
              <time dateTime={message.sentAt.toISOString()}>{time.format(message.sentAt)}</time>
            </p>
          )}
          <p className="message__text">{message.text}</p>
        </div>
      </li>
    </>
  );
}

const STATUS_TEXT = { queued: 'Waiting for connection…', sending: 'Sending…' } as const;

function UnsentItem({ entry, me, onRetry, onDiscard }: { entry: Unsent; me: User; onRetry: (key: string) => void; onDiscard: (key: string) => void }) {
  return (
    <li className={`message message--mine message--${entry.status}`} data-outbox-status={entry.status}>
      <Avatar name={me.name} id={me.id} />
      <div className="message__body">
        <p className="message__meta">
          <span className="message__author">{me.name}</span>
        </p>
        <p className="message__text">{entry.text}</p>
        {entry.status === 'failed' ? (
          <p className="message__status message__status--failed" role="alert">
            <span>{entry.error ?? 'Not sent.'}</span>
            <button type="button" className="link-button" onClick={() => onRetry(entry.key)}>
              Retry
            </button>
            <button type="button" className="link-button" onClick={() => onDiscard(entry.key)}>
              Discard
            </button>
          </p>
        ) : (
          <p className="message__status">{STATUS_TEXT[entry.status]}</p>
        )}
      </div>
    </li>
  );
}
