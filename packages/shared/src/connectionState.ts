/**
 * What a client's link is doing now. One value at a time; every change is an
 * event carrying the previous state.
 *
 * - `connecting`: the first connection is being made.
 * - `open`: the socket is open and `connectionParams` were accepted.
 * - `reconnecting`: the link was lost (or never came up) and a retry is
 *   scheduled or under way; `attempt` counts retries since the last `open`.
 * - `closed`: the app closed the client. Terminal.
 */
export type ConnectionState =
  | { readonly status: 'connecting'; readonly url: string | null }
  | { readonly status: 'open'; readonly url: string }
  | {
      readonly status: 'reconnecting';
      readonly attempt: number;
      readonly error: Error | null;
    }
  | { readonly status: 'closed' };

export type ConnectionStatus = ConnectionState['status'];
