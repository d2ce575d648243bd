/** What the abuse scenario (scenarios/abuse.ts) and its server (servers/abuseServer.ts) share. */

/** The room the scenario fills and asks for. */
export const ABUSE_ROOM = 'abuse';
/** What `history` returns at most: the room's last this many messages (the demo's `chat.history` with `limit: 200`). */
export const HISTORY_LIMIT = 200;

// A type alias, not an interface: it satisfies `CommandMap`'s index signature implicitly.
export type AbuseServerCommands = {
  /** Publishes `messages` messages of `chars` characters each to the room. */
  fill: { args: { messages: number; chars: number }; result: { published: number } };
  /** `process.memoryUsage()` as it is (no collection). */
  memory: { args: null; result: ServerMemory };
  /** Full collections, then the process's RSS (bytes). */
  collect: { args: null; result: { rss: number } };
};

/** Where a process holds its memory, bytes (`process.memoryUsage()`). */
export interface ServerMemory {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
}
