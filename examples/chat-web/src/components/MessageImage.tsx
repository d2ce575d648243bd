import { useEffect, useRef } from 'react';
import type { Message } from '../lib/types.js';

type Image = NonNullable<Message['image']>;

/**
 * An image a message carries, shown from its bytes: an object URL made from
 * them (no request to any server), set on the element and released when the
 * message leaves the screen. Its alt text is what the sender wrote for it.
 */
export function MessageImage({ image }: { image: Image }) {
  const element = useRef<HTMLImageElement>(null);
  useEffect(() => {
    const img = element.current;
    if (!img) return;
    const objectUrl = URL.createObjectURL(new Blob([image.bytes as Uint8Array<ArrayBuffer>], { type: image.type }));
    img.src = objectUrl;
    return () => {
      img.removeAttribute('src');
      URL.revokeObjectURL(objectUrl);
    };
  }, [image]);
  return <img ref={element} className="message__image" alt={image.alt} />;
}
