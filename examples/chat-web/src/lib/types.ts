// Type-only imports from the server: its router is the contract, and no server code reaches the bundle.
import type { Message, User } from '@herald/example-chat-server';

/** A chat message as the server sends it (`sentAt` is a real Date, thanks to superjson). */
export type { Message, User };

export interface Session {
  readonly token: string;
  readonly user: User;
}
