/**
 * One connection as the admin page shows it (`Connection.describe`). A file
 * of its own, without the socket's types, so the admin router's public type
 * (`AdminRouter`) does not reach `ws`'s.
 */
export interface ConnectionSummary {
  /** `c<number>`, numbered per server. */
  readonly connectionId: string;
  readonly userKey: string | null;
  /** The client's address. */
  readonly address: string;
  /** When the socket opened, in ms since the epoch. */
  readonly connectedAt: number;
  /** The procedure path of each subscription it holds. */
  readonly subscriptions: string[];
}
