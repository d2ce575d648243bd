/** What the demo's chat procedures must be typed as on the client, written out by hand (the type tests compare against it). */
export interface ExpectedMessage {
  id: string;
  room: string;
  author: { id: string; name: string };
  text: string;
  /** An image message's bytes (a Uint8Array on the client too), type and alt text. */
  image?: { bytes: Uint8Array<ArrayBuffer>; type: 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp'; alt: string } | undefined;
  sentAt: Date;
}
