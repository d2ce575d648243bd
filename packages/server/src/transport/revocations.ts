import type { Broker, BrokerEntry, Retention, Unsubscribe } from '../brokers/broker.js';

/**
 * The broker topic revocations travel on. Channel topics are
 * `<name>:<key>` with names of `[A-Za-z0-9_.-]`, so no channel can use it.
 */
export const REVOCATIONS_TOPIC = '#herald/revocations';

/** Revocations a node remembers at most (the newest; older ones lapse first anyway). */
const MAX_REMEMBERED = 10_000;

export interface Revocation {
  readonly userKey: string;
  readonly reason: string;
  /** When it was made, in ms since the epoch: credentials issued before it are refused. */
  readonly revokedAt: number;
}

/**
 * Ends a user's sessions on every node, and keeps them ended: `revoke`
 * publishes through the broker (memory or Redis), every node's subscriber
 * ends that user's connections there, and every node remembers the
 * revocation for `ttlMs` (the topic keeps it as history for as long, so a
 * node that starts or reconnects later reads it back). While remembered,
 * `revokedAt(userKey)` tells the request gate to refuse that user's
 * credentials issued before it. Without a broker it acts on this node alone.
 */
export class Revocations {
  private unsubscribe: Unsubscribe | null = null;
  /** Revocations in force, by user key (insertion order is time order: the oldest go first). */
  private readonly remembered = new Map<string, number>();
  private readonly retention: Retention;

  constructor(
    private readonly broker: Broker | null,
    private readonly onRevoke: (revocation: Revocation) => void,
    private readonly onError: (error: unknown) => void,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.retention = { size: MAX_REMEMBERED, ttlMs };
  }

  /** Starts listening and reads back the revocations still in force; resolves once both are done. */
  async start(): Promise<void> {
    if (!this.broker) return;
    this.unsubscribe = await this.broker.subscribe(REVOCATIONS_TOPIC, {
      onEntry: (entry) => this.take(entry, true),
      // Missed while the broker was away: read back from its history.
      onInterrupted: () => void this.readBack().catch(this.onError),
    });
    await this.readBack();
  }

  /** Ends `userKey`'s connections on every node and refuses its older credentials; resolves once the broker took it. */
  async revoke(userKey: string, reason: string): Promise<void> {
    const revocation: Revocation = { userKey, reason, revokedAt: this.now() };
    if (!this.broker) {
      this.remember(revocation);
      this.onRevoke(revocation);
      return;
    }
    await this.broker.publish(REVOCATIONS_TOPIC, JSON.stringify(revocation), this.retention);
  }

  /** When `userKey`'s sessions were last revoked, if that is still in force; else null. */
  revokedAt(userKey: string): number | null {
    const at = this.remembered.get(userKey);
    if (at === undefined) return null;
    if (at + this.ttlMs > this.now()) return at;
    this.remembered.delete(userKey);
    return null;
  }

  async stop(): Promise<void> {
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    await unsubscribe?.();
  }

  private async readBack(): Promise<void> {
    const { entries } = await this.broker!.readLatest(REVOCATIONS_TOPIC, MAX_REMEMBERED, this.retention);
    for (const entry of entries) this.take(entry, false);
  }

  private take(entry: BrokerEntry, live: boolean): void {
    const revocation = parseRevocation(entry.data);
    if (!revocation) {
      this.onError(new Error(`Ignored a malformed revocation: ${entry.data.slice(0, 200)}`));
      return;
    }
    this.remember(revocation);
    if (live) this.onRevoke(revocation);
  }

  private remember({ userKey, revokedAt }: Revocation): void {
    if (revokedAt + this.ttlMs <= this.now() || (this.remembered.get(userKey) ?? 0) >= revokedAt) return;
    this.remembered.delete(userKey);
    this.remembered.set(userKey, revokedAt);
    if (this.remembered.size > MAX_REMEMBERED) this.remembered.delete(this.remembered.keys().next().value!);
  }
}

function parseRevocation(data: string): Revocation | null {
  try {
    const value = JSON.parse(data) as { userKey?: unknown; reason?: unknown; revokedAt?: unknown };
    if (typeof value.userKey === 'string' && typeof value.reason === 'string' && typeof value.revokedAt === 'number') {
      return { userKey: value.userKey, reason: value.reason, revokedAt: value.revokedAt };
    }
  } catch {
    // Not JSON: reported by the caller.
  }
  return null;
}
