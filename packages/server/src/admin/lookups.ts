import { randomUUID } from 'node:crypto';
import type { Broker, Unsubscribe } from '../brokers/broker.js';
import type { ConnectionSummary } from '../ws/summary.js';

/** The broker topic lookups and their answers travel on (not a channel topic: see `STATS_TOPIC`). */
export const LOOKUP_TOPIC = '#herald/admin-lookup';

const RETENTION = { size: 50, ttlMs: 10_000 } as const;
/** Connections one node reports for one lookup. */
const MAX_PER_NODE = 50;

/** A connection found by a lookup, with the node that holds it. */
export interface FoundConnection extends ConnectionSummary {
  readonly nodeId: string;
}

type LookupMessage =
  | { readonly type: 'ask'; readonly requestId: string; readonly query: string }
  | { readonly type: 'answer'; readonly requestId: string; readonly nodeId: string; readonly connections: ConnectionSummary[] };

interface Pending {
  readonly found: FoundConnection[];
  readonly answered: Set<string>;
  readonly expected: ReadonlySet<string>;
  readonly done: () => void;
}

/** Lists every connection (up to `MAX_PER_NODE` per node): browsing, not searching. */
export const LOOKUP_ALL = '*';

/**
 * Which connections a lookup `query` names on node `nodeId`, as a test over
 * connection id and user key, or null when it names none there:
 *
 * - `*`: every connection;
 * - `<nodeId>/` or `<nodeId>/<prefix>`: that node's connections (browse a
 *   node), or those whose id starts with `prefix`;
 * - anything else: connections whose id or user key starts with it (user
 *   keys compared without case), so `c1`, `u_3f` or `ann` find `c12`,
 *   `u_3f9c…` and `Anna`.
 */
export function lookupMatcher(query: string, nodeId: string): ((connectionId: string, userKey: string | null) => boolean) | null {
  if (query === LOOKUP_ALL) return () => true;
  const slash = query.lastIndexOf('/');
  if (slash > 0) {
    if (query.slice(0, slash) !== nodeId) return null;
    const prefix = query.slice(slash + 1);
    return (connectionId) => connectionId.startsWith(prefix);
  }
  const lower = query.toLowerCase();
  return (connectionId, userKey) => connectionId.startsWith(query) || (userKey !== null && userKey.toLowerCase().startsWith(lower));
}

/** Exact matches of `query` (the id or the user key itself) before prefix matches. */
function exactness(connection: FoundConnection, query: string): number {
  const wanted = query.slice(query.lastIndexOf('/') + 1);
  return connection.connectionId === wanted || connection.userKey === query ? 0 : 1;
}

/**
 * Finds connections by id or user key, or a prefix of either (see
 * `lookupMatcher`), on every node: the asking node publishes the question on `LOOKUP_TOPIC`,
 * each node answers with what it holds, and the lookup resolves once every
 * live node answered or `timeoutMs` passed.
 */
export class ConnectionLookups {
  private unsubscribe: Unsubscribe | null = null;
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly broker: Broker | null,
    private readonly settings: {
      readonly nodeId: string;
      readonly describe: (matches: (connectionId: string, userKey: string | null) => boolean, limit: number) => ConnectionSummary[];
      readonly onError: (error: unknown) => void;
    },
  ) {}

  async start(): Promise<void> {
    if (!this.broker) return;
    this.unsubscribe = await this.broker.subscribe(LOOKUP_TOPIC, {
      onEntry: (entry) => this.receive(entry.data),
      onInterrupted: () => {},
    });
  }

  /** The connections matching `query` on the nodes `nodeIds` (the live ones), waiting at most `timeoutMs` for their answers. */
  async find(query: string, nodeIds: readonly string[], timeoutMs: number): Promise<FoundConnection[]> {
    if (!this.broker) return this.sorted(this.local(query).map((summary) => ({ ...summary, nodeId: this.settings.nodeId })), query);
    const requestId = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const found: FoundConnection[] = [];
    await new Promise<void>((resolve) => {
      this.pending.set(requestId, { found, answered: new Set(), expected: new Set(nodeIds), done: resolve });
      timer = setTimeout(resolve, timeoutMs);
      this.publish({ type: 'ask', requestId, query }).catch((error: unknown) => {
        this.settings.onError(error);
        resolve();
      });
    });
    clearTimeout(timer);
    this.pending.delete(requestId);
    return this.sorted(found, query);
  }

  private sorted(found: FoundConnection[], query: string): FoundConnection[] {
    return found.sort((a, b) => exactness(a, query) - exactness(b, query) || a.nodeId.localeCompare(b.nodeId) || a.connectedAt - b.connectedAt);
  }

  async stop(): Promise<void> {
    for (const pending of this.pending.values()) pending.done();
    this.pending.clear();
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    await unsubscribe?.();
  }

  private local(query: string): ConnectionSummary[] {
    const matches = lookupMatcher(query, this.settings.nodeId);
    return matches ? this.settings.describe(matches, MAX_PER_NODE) : [];
  }

  private receive(data: string): void {
    let message: LookupMessage;
    try {
      message = JSON.parse(data) as LookupMessage;
    } catch (error) {
      this.settings.onError(error);
      return;
    }
    if (message.type === 'ask' && typeof message.query === 'string') {
      const connections = this.local(message.query);
      this.publish({ type: 'answer', requestId: message.requestId, nodeId: this.settings.nodeId, connections }).catch(this.settings.onError);
      return;
    }
    if (message.type !== 'answer') return;
    const pending = this.pending.get(message.requestId);
    if (!pending || pending.answered.has(message.nodeId)) return;
    pending.answered.add(message.nodeId);
    for (const connection of message.connections) pending.found.push({ ...connection, nodeId: message.nodeId });
    if ([...pending.expected].every((nodeId) => pending.answered.has(nodeId))) pending.done();
  }

  private async publish(message: LookupMessage): Promise<void> {
    await this.broker?.publish(LOOKUP_TOPIC, JSON.stringify(message), RETENTION);
  }
}
