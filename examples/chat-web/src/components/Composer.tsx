import { useId, useRef, useState, type ClipboardEvent, type FormEvent, type KeyboardEvent } from 'react';

const MAX_LENGTH = 2000;
/** What the file picker offers: the types the server takes (it checks them, and the size). */
const IMAGE_ACCEPT = 'image/png,image/jpeg,image/gif,image/webp';

interface Props {
  room: string;
  online: boolean;
  onSend: (text: string) => void;
  /** Sends `file` as an image, `alt` being the text that stands for it. */
  onSendImage: (file: File, alt: string) => void;
  /** Why the last image was not sent (the server's refusal), or null. */
  imageError: string | null;
  autoFocus: boolean;
}

/**
 * The message box: Enter sends, Shift+Enter starts a new line. Works offline:
 * messages wait for the connection. An image (picked, or pasted into the box)
 * waits for its description: what is typed then is its alt text, and Enter
 * sends the image with it.
 */
export function Composer({ room, online, onSend, onSendImage, imageError, autoFocus }: Props) {
  const [text, setText] = useState('');
  const [image, setImage] = useState<File | null>(null);
  const inputId = useId();
  const hintId = useId();
  const fileId = useId();
  const input = useRef<HTMLTextAreaElement>(null);

  const send = (event?: FormEvent) => {
    event?.preventDefault();
    const value = text.trim();
    if (!value) return;
    if (image) {
      onSendImage(image, value.slice(0, MAX_LENGTH));
      setImage(null);
    } else {
      onSend(value.slice(0, MAX_LENGTH));
    }
    setText('');
    input.current?.focus();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) send(event);
  };

  const pick = (file: File | undefined) => {
    if (!file) return;
    setImage(file);
    input.current?.focus();
  };

  const onPaste = (event: ClipboardEvent<HTMLTextAreaElement>) => {
    const file = [...event.clipboardData.files].find((candidate) => candidate.type.startsWith('image/'));
    if (!file) return;
    event.preventDefault();
    pick(file);
  };

  return (
    <form className="composer" onSubmit={send}>
      <label htmlFor={inputId} className="visually-hidden">
        {image ? 'Describe the image' : 'Message'}
      </label>
      <textarea
        id={inputId}
        ref={input}
        rows={1}
        // After Join, typing goes straight to the message box.
        autoFocus={autoFocus}
        value={text}
        maxLength={MAX_LENGTH}
        placeholder={image ? `Describe ${image.name || 'the image'} for people who cannot see it` : `Message #${room}`}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={onKeyDown}
        onPaste={onPaste}
        aria-describedby={hintId}
      />
      <label htmlFor={fileId} className="button composer__attach">
        Image
      </label>
      <input
        id={fileId}
        className="visually-hidden"
        type="file"
        accept={IMAGE_ACCEPT}
        onChange={(event) => {
          pick(event.target.files?.[0]);
          // The same file can be picked again.
          event.target.value = '';
        }}
      />
      <button type="submit" className="button button--primary composer__send" disabled={!text.trim()}>
        Send
      </button>
      <p id={hintId} className="composer__hint">
        {image ? (
          <>
            Image ready: {image.name || 'pasted image'}. Type what it shows, then Enter to send it.{' '}
            <button type="button" className="button button--small" onClick={() => setImage(null)}>
              Remove image
            </button>
          </>
        ) : online ? (
          'Enter to send, Shift+Enter for a new line. Pick or paste an image to send one.'
        ) : (
          'No connection to the chat server: what you send waits here and goes out when the connection is back.'
        )}
      </p>
      {imageError && (
        <p className="composer__error" role="alert">
          Image not sent: {imageError}
        </p>
      )}
    </form>
  );
}
