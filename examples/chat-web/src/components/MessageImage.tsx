import { useEffect, useState } from 'react';
import type { Message } from '../lib/types.js';

type Image = NonNullable<Message['image']>;

/**
 * An image a message carries, shown from its bytes: an object URL made from
 * them (no request to any server), released when the message leaves the
 * screen. Its alt text is what the sender wrote for it.
 */
export function MessageImage({ image }: { image: Image }) {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    const objectUrl = URL.createObjectURL(new Blob([image.bytes as Uint8Array<ArrayBuffer>], { type: image.type }));
    setUrl(objectUrl);
    return () => URL.revokeObjectURL(objectUrl);
  }, [image]);
  return url ? <img className="message__image" src={url} alt={image.alt} /> : null;
}
