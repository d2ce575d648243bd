// What adminCost.ts and its server process agree on.

export const ADMIN_TOKEN = 'bench-admin-token';
/** Subscribers are spread over this many rooms (10,000 / 100 = 100 each). */
export const ROOMS = 100;
/** Messages the server publishes per second, round-robin over the rooms (each goes to 100 sockets). */
export const PUBLISH_PER_SECOND = 100;

export type AdminBenchReply =
  | { readonly type: 'ready'; readonly port: number }
  | { readonly type: 'cpu'; readonly cpuUs: number; readonly atMs: number; readonly connections: number; readonly published: number };
