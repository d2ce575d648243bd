import { useId, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';

const MAX_LENGTH = 2000;

/** The message box: Enter sends, Shift+Enter starts a new line. Works offline: messages wait for the connection. */
export function Composer({ room, online, onSend, autoFocus }: { room: string; online: boolean; onSend: (text: string) => void; autoFocus: boolean }) {
  const [text, setText] = useState('');
  const inputId = useId();
  const hintId = useId();
  const input = useRef<HTMLTextAreaElement>(null);

  const send = (event?: FormEvent) => {
    event?.preventDefault();
    const value = text.trim();
    if (!value) return;
    onSend(value.slice(0, MAX_LENGTH));
    setText('');
    input.current?.focus();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) send(event);
  };

  return (
    <form className="composer" onSubmit={send}>
      <label htmlFor={inputId} className="visually-hidden">
        Message
      </label>
      <textarea
        id={inputId}
        ref={input}
        rows={1}
        // After Join, typing goes straight to the message box.
        autoFocus={autoFocus}
        value={text}
        maxLength={MAX_LENGTH}
        placeholder={`Message #${room}`}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={onKeyDown}
        aria-describedby={hintId}
      />
      <button type="submit" className="button button--primary composer__send" disabled={!text.trim()}>
        Send
      </button>
      <p id={hintId} className="composer__hint">
        {online ? 'Enter to send, Shift+Enter for a new line.' : 'No connection to the chat server: what you send waits here and goes out when the connection is back.'}
      </p>
    </form>
  );
}
