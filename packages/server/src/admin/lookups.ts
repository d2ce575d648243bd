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

/**
 * Finds connections by id (`c12`, or `<nodeId>/c12`) or by user key on
 * every node: the asking node publishes the question on `LOOKUP_TOPIC`,
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
    if (!this.broker) return this.local(query).map((summary) => ({ ...summary, nodeId: this.settings.nodeId }));
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
    return found.sort((a, b) => a.nodeId.localeCompare(b.nodeId) || a.connectedAt - b.connectedAt);
  }

  async stop(): Promise<void> {
    for (const pending of this.pending.values()) pending.done();
    this.pending.clear();
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    await unsubscribe?.();
  }

  private local(query: string): ConnectionSummary[] {
    const { nodeId } = this.settings;
    const slash = query.lastIndexOf('/');
    // `<nodeId>/c12` names a connection of one node; `c12` alone, any node's.
    if (slash > 0 && query.slice(0, slash) !== nodeId) return [];
    const wanted = slash > 0 ? query.slice(slash + 1) : query;
    return this.settings.describe((connectionId, userKey) => connectionId === wanted || userKey === wanted, MAX_PER_NODE);
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
