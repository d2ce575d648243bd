// Type-only imports from the server: its router is the contract, and no server code reaches the bundle.
import type { ImageType, Message, User } from '@herald/example-chat-server';

/** A chat message as the server sends it (`sentAt` is a real Date, `image.bytes` a Uint8Array, thanks to superjson). */
export type { ImageType, Message, User };

export interface Session {
  readonly token: string;
  readonly user: User;
}
