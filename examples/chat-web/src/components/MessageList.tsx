import { memo, useLayoutEffect, useRef, useState } from 'react';
import { lastMessages, type MessageLog } from '../lib/messages.js';
import type { Message, User } from '../lib/types.js';
import type { Unsent } from '../lib/unsent.js';
import { Avatar } from './Avatar.js';
import { MessageImage } from './MessageImage.js';

const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const day = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'short', day: 'numeric' });
/** Messages by one author within this window share a header. */
const GROUP_MS = 5 * 60_000;
/** Messages in the page while the reader is at the bottom: a room of 10,000 keeps this many in the DOM. */
export const RENDERED_MESSAGES = 150;
/** How many more each "Show older messages" adds. */
const PAGE = 100;
/** Within this many pixels of the bottom, the list follows new messages. */
const PINNED_PX = 80;

interface Props {
  room: string;
  me: User;
  log: MessageLog;
  unsent: readonly Unsent[];
  loading: boolean;
  error: boolean;
  /** The server may hold messages older than the log's first. */
  hasOlder: boolean;
  loadingOlder: boolean;
  onLoadOlder: () => void;
  onRetry: (key: string) => void;
  onDiscard: (key: string) => void;
}

/**
 * The conversation: a focusable scroller (arrow keys and Page Up/Down scroll
 * it) holding a plain list; new messages are announced by the room's own
 * live region (Room), so loading history announces nothing. Only the newest
 * `RENDERED_MESSAGES` are in the page until the reader asks for older ones.
 */
export function MessageList({ room, me, log, unsent, loading, error, hasOlder, loadingOlder, onLoadOlder, onRetry, onDiscard }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);
  const [count, setCount] = useState(RENDERED_MESSAGES);
  const [unseen, setUnseen] = useState(0);
  const shown = lastMessages(log, count);
  const newest = shown.at(-1)?.id;
  const oldest = shown[0]?.id;
  const previous = useRef({ newest, oldest, size: log.size, scrollHeight: 0, scrollTop: 0 });

  // Follow new messages at the bottom; keep the reader's place when older ones are added above or new ones arrive below.
  useLayoutEffect(() => {
    const element = scroller.current;
    const before = previous.current;
    if (element) {
      if (pinned.current) element.scrollTop = element.scrollHeight;
      else if (oldest !== before.oldest && newest === before.newest) element.scrollTop = before.scrollTop + (element.scrollHeight - before.scrollHeight);
      previous.current = { newest, oldest, size: log.size, scrollHeight: element.scrollHeight, scrollTop: element.scrollTop };
    }
    if (!pinned.current && newest !== before.newest && log.size > before.size) {
      // Scrolled up: the window grows with what arrived, so what the reader looks at stays, and they are told.
      setCount((current) => current + (log.size - before.size));
      setUnseen((current) => current + (log.size - before.size));
    }
  }, [log, unsent, newest, oldest]);

  const onScroll = () => {
    const element = scroller.current;
    if (!element) return;
    pinned.current = element.scrollHeight - element.scrollTop - element.clientHeight < PINNED_PX;
    previous.current = { ...previous.current, scrollHeight: element.scrollHeight, scrollTop: element.scrollTop };
    if (pinned.current) {
      setUnseen(0);
      setCount(RENDERED_MESSAGES);
    }
  };

  const toBottom = () => {
    const element = scroller.current;
    if (!element) return;
    pinned.current = true;
    setUnseen(0);
    setCount(RENDERED_MESSAGES);
    element.scrollTop = element.scrollHeight;
    element.focus();
  };

  const older = () => {
    pinned.current = false;
    if (count < log.size) setCount((current) => current + PAGE);
    else {
      setCount((current) => current + PAGE);
      onLoadOlder();
    }
  };

  const empty = log.size === 0 && unsent.length === 0;
  const moreAbove = count < log.size || hasOlder;
  return (
    <div className="messages-wrap">
      <div className="messages" ref={scroller} onScroll={onScroll} tabIndex={0} role="region" aria-label={`Conversation in #${room}`}>
        {loading && <p className="messages__empty">Loading messages…</p>}
        {error && <p className="messages__empty">Could not load history. New messages will still appear here.</p>}
        {!loading && !error && empty && (
          <div className="messages__empty">
            <p className="messages__empty-title">This is the start of #{room}</p>
            <p>Say hello. Everyone in the room sees your message as soon as you send it.</p>
          </div>
        )}
        {!loading && log.size > 0 && moreAbove && (
          <p className="messages__older">
            <button type="button" className="button button--small" onClick={older} disabled={loadingOlder}>
              {loadingOlder ? 'Loading older messages…' : 'Show older messages'}
            </button>
          </p>
        )}
        {!loading && log.size > 0 && !moreAbove && <p className="messages__start">This is the start of #{room}.</p>}
        <ol className="messages__list">
          {shown.map((message, index) => (
            <MessageItem key={message.id} message={message} previous={shown[index - 1]} mine={message.author.id === me.id} />
          ))}
          {unsent.map((entry) => (
            <UnsentItem key={entry.key} entry={entry} me={me} onRetry={onRetry} onDiscard={onDiscard} />
          ))}
        </ol>
      </div>
      {unseen > 0 && (
        <button type="button" className="button button--primary new-messages" onClick={toBottom}>
          {unseen === 1 ? '1 new message' : `${unseen} new messages`} <span aria-hidden="true">↓</span>
        </button>
      )}
    </div>
  );
}

function Author({ name, mine }: { name: string; mine: boolean }) {
  return (
    <span className="message__author">
      {name}
      {mine && <span className="message__you"> (you)</span>}
    </span>
  );
}

/** One message; re-rendered only when it or the one before it changes (a new message renders one item, not 150). */
const MessageItem = memo(function MessageItem({ message, previous, mine }: { message: Message; previous: Message | undefined; mine: boolean }) {
  const newDay = !previous || previous.sentAt.toDateString() !== message.sentAt.toDateString();
  const grouped = !newDay && previous?.author.id === message.author.id && message.sentAt.getTime() - previous.sentAt.getTime() < GROUP_MS;
  return (
    <>
      {newDay && (
        // A plain item, not role="separator": a list holds list items only (axe's `list` rule).
        <li className="day-divider">
          <span>{day.format(message.sentAt)}</span>
        </li>
      )}
      <li className={`message${mine ? ' message--mine' : ''}${grouped ? ' message--grouped' : ''}`} data-message-id={message.id}>
        {!grouped && <Avatar name={message.author.name} id={message.author.id} />}
        <div className="message__body">
          {grouped ? (
            // A follow-up shows no header, but a screen reader still hears who wrote it and when.
            <span className="visually-hidden">
              {message.author.name}
              {mine ? ' (you)' : ''}, {time.format(message.sentAt)}:{' '}
            </span>
          ) : (
            <p className="message__meta">
              <Author name={message.author.name} mine={mine} />
              <time dateTime={message.sentAt.toISOString()}>{time.format(message.sentAt)}</time>
            </p>
          )}
          {message.image ? <MessageImage image={message.image} /> : <p className="message__text">{message.text}</p>}
        </div>
      </li>
    </>
  );
});

const STATUS_TEXT = { queued: 'Waiting for connection… (not sent yet: no connection to the chat server)', sending: 'Sending…' } as const;

function UnsentItem({ entry, me, onRetry, onDiscard }: { entry: Unsent; me: User; onRetry: (key: string) => void; onDiscard: (key: string) => void }) {
  return (
    <li className={`message message--mine message--${entry.status}`} data-outbox-status={entry.status}>
      <Avatar name={me.name} id={me.id} />
      <div className="message__body">
        <p className="message__meta">
          <Author name={me.name} mine />
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
