/** What the demo's chat procedures must be typed as on the client, written out by hand (the type tests compare against it). */
export interface ExpectedMessage {
  id: string;
  room: string;
  author: { id: string; name: string };
  text: string;
  sentAt: Date;
}
