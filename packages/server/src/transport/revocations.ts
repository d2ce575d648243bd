import type { Broker, Unsubscribe } from '../brokers/broker.js';

/**
 * The broker topic revocations travel on. Channel topics are
 * `<name>:<key>` with names of `[A-Za-z0-9_.-]`, so no channel can use it.
 */
export const REVOCATIONS_TOPIC = '#herald/revocations';

/** Revocations are commands, not history: kept briefly and few. */
const RETENTION = { size: 100, ttlMs: 60_000 } as const;

export interface Revocation {
  readonly userKey: string;
  readonly reason: string;
}

/**
 * Ends a user's sessions on every node: `revoke` publishes through the
 * broker (memory or Redis) and every node's subscriber ends that user's
 * connections there. Without a broker it acts on this node alone.
 */
export class Revocations {
  private unsubscribe: Unsubscribe | null = null;

  constructor(
    private readonly broker: Broker | null,
    private readonly onRevoke: (revocation: Revocation) => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Starts listening; resolves once revocations published from now on reach this node. */
  async start(): Promise<void> {
    if (!this.broker) return;
    this.unsubscribe = await this.broker.subscribe(REVOCATIONS_TOPIC, {
      onEntry: (entry) => {
        const revocation = parseRevocation(entry.data);
        if (revocation) this.onRevoke(revocation);
        else this.onError(new Error(`Ignored a malformed revocation: ${entry.data.slice(0, 200)}`));
      },
      // A revocation missed while the broker was away is not replayed: the
      // app's `authenticate` refuses the user's credentials on reconnect, and
      // the expiry bounds what an open socket keeps.
      onInterrupted: () => {},
    });
  }

  /** Ends `userKey`'s connections on every node; resolves once the broker took it. */
  async revoke(revocation: Revocation): Promise<void> {
    if (!this.broker) {
      this.onRevoke(revocation);
      return;
    }
    await this.broker.publish(REVOCATIONS_TOPIC, JSON.stringify(revocation), RETENTION);
  }

  async stop(): Promise<void> {
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    await unsubscribe?.();
  }
}

function parseRevocation(data: string): Revocation | null {
  try {
    const value = JSON.parse(data) as { userKey?: unknown; reason?: unknown };
    if (typeof value.userKey === 'string' && typeof value.reason === 'string') return { userKey: value.userKey, reason: value.reason };
  } catch {
    // Not JSON: reported by the caller.
  }
  return null;
}
