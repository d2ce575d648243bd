/**
 * The HTTP fallback of `@herald/client`: queries, mutations and subscriptions
 * over HTTP and Server-Sent Events, for networks that strip WebSocket
 * upgrades. Pass `httpTransport` to `createHeraldClient` with `transport:
 * 'http'` or `'auto'`; an app that stays on WebSocket leaves this entry (and
 * tRPC's HTTP links) out of its bundle.
 *
 * @example
 * ```ts
 * import { createHeraldClient } from '@herald/client';
 * import { httpTransport } from '@herald/client/http';
 *
 * const client = createHeraldClient<AppRouter>({ url: 'wss://chat.example.com/ws', transport: 'auto', http: httpTransport });
 * ```
 * @module @herald/client/http
 */
import { httpConnectionParts } from './connection/httpConnectionParts.js';
import type { HttpTransportInternals } from './connection/httpTransport.js';
import type { HttpTransport } from './options.js';

export type { HttpTransport } from './options.js';

/** The HTTP transport: `createHeraldClient({ transport: 'auto', http: httpTransport })`. */
export const httpTransport: HttpTransport = {
  transport: 'http',
  connectionParts: httpConnectionParts,
} as HttpTransportInternals;
