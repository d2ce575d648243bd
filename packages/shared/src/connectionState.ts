/**
 * What a client's link is doing now. One value at a time; every change is an
 * event carrying the previous state.
 *
 * - `connecting`: the first connection is being made.
 * - `open`: the link is up: a WebSocket whose `connectionParams` went out, or
 *   (`transport: 'http'`) the server's `/trpc` endpoint answering, with
 *   subscriptions as Server-Sent Events. `url` is the WebSocket URL, or the
 *   HTTP endpoint.
 * - `reconnecting`: the link was lost (or never came up) and a retry is
 *   scheduled or under way; `attempt` counts retries since the last `open`.
 * - `closed`: the app closed the client. Terminal.
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
       * refused, and retrying with the same ones will not help.
       */
      readonly closeCode: number | null;
    }
  | { readonly status: 'closed' };

/**
 * How an open client talks to its server: one WebSocket, or HTTP (batched
 * queries, a request per mutation, a Server-Sent Events stream per
 * subscription) when the network strips WebSocket upgrades.
 */
export type Transport = 'websocket' | 'http';

export type ConnectionStatus = ConnectionState['status'];
