/**
 * What a client's link is doing now. One value at a time; every change is an
 * event carrying the previous state.
 *
 * - `connecting`: the first connection is being made (or the first after
 *   `client.reconnect()`).
 * - `open`: the link is up: a WebSocket whose `connectionParams` went out, or
 *   (`transport: 'http'`) the server's `/trpc` endpoint answering, with
 *   subscriptions as Server-Sent Events. `url` is the WebSocket URL, or the
 *   HTTP endpoint.
 * - `reconnecting`: the link was lost (or never came up) and a retry is
 *   scheduled or under way; `attempt` counts retries since the last
 *   connection that proved itself (one the server answered on).
 * - `closed`: the client stopped. Without `refusal`, the app closed it and it
 *   is over for good. With `refusal`, the server said no twice in a row in a
 *   way a retry cannot fix (credentials refused, or the upgrade refused with
 *   401, 403 or 404): the client waits for the app, whose
 *   `client.reconnect()` (after the user logs in again, say) starts it again.
 */
export type ConnectionState =
  | { readonly status: 'connecting'; readonly url: string | null }
  | { readonly status: 'open'; readonly url: string; readonly transport: Transport }
  | {
      readonly status: 'reconnecting';
      readonly attempt: number;
      readonly error: Error | null;
      /**
       * The close code of the connection that was lost, when the server sent
       * one: `CloseCode.UNAUTHORIZED` (4001) means the credentials were
       * refused; the client asks `connectionParams` for fresh ones and tries
       * once more before it stops.
       */
      readonly closeCode: number | null;
      /**
       * The HTTP status that answered the last attempt instead of an upgrade
       * (404 wrong path, 403 origin refused, 429 or 503 server full), when the
       * platform can see it: Node (`ws`) can; browsers hide the response of a
       * refused upgrade, and there it is absent.
       */
      readonly httpStatus?: number;
    }
  | {
      readonly status: 'closed';
      /** Why the server's answer stopped the client; absent when the app called `close()`. */
      readonly refusal?: ConnectionRefusal;
    };

/** The answer that stopped a client: `client.reconnect()` tries again. */
export interface ConnectionRefusal {
  /** The close code the server sent (`CloseCode.UNAUTHORIZED`), or null when the upgrade itself was refused. */
  readonly closeCode: number | null;
  /** The HTTP status that refused the upgrade (401, 403, 404), when the platform can see it. */
  readonly httpStatus: number | null;
  /** What the server said, as an error (its message names the code or status and the server's reason). */
  readonly error: Error;
}

/**
 * How an open client talks to its server: one WebSocket, or HTTP (batched
 * queries, a request per mutation, a Server-Sent Events stream per
 * subscription) when the network strips WebSocket upgrades.
 */
export type Transport = 'websocket' | 'http';

/** The status alone: `'connecting' | 'open' | 'reconnecting' | 'closed'`. */
export type ConnectionStatus = ConnectionState['status'];
