import { randomUUID } from 'node:crypto';
import type { Broker, Unsubscribe } from '../brokers/broker.js';
import type { ConnectionSummary, LookupFields } from '../ws/summary.js';

/** The broker topic lookups and their answers travel on (not a channel topic: see `STATS_TOPIC`). */
export const LOOKUP_TOPIC = '#herald/admin-lookup';

const RETENTION = { size: 50, ttlMs: 10_000 } as const;
/** Connections one node reports for one lookup. */
const MAX_PER_NODE = 50;

/** A connection found by a lookup, with the node that holds it. */
export interface FoundConnection extends ConnectionSummary {
  readonly nodeId: string;
}

/** What a node is asked: the connections a query names, or how many local subscribers a topic has. */
type Question = { readonly kind: 'connections'; readonly query: string } | { readonly kind: 'subscribers'; readonly topic: string };

/**
 * A node's answer to a `Question` of the same kind. A `subscribers` answer
 * also lists the node's connections subscribed to the topic (at most
 * `MAX_PER_NODE`; a node of an older version lists none).
 */
type Answer =
  | { readonly kind: 'connections'; readonly connections: ConnectionSummary[] }
  | { readonly kind: 'subscribers'; readonly subscribers: number; readonly connections?: ConnectionSummary[] };

type LookupMessage =
  | { readonly type: 'ask'; readonly requestId: string; readonly question: Question }
  | { readonly type: 'answer'; readonly requestId: string; readonly nodeId: string; readonly answer: Answer };

interface Pending {
  readonly answers: { nodeId: string; answer: Answer }[];
  readonly answered: Set<string>;
  readonly expected: ReadonlySet<string>;
  readonly done: () => void;
}

/** A topic's local subscribers on one node. */
export interface NodeSubscribers {
  readonly nodeId: string;
  readonly subscribers: number;
}

/** A topic's subscribers over the cluster: how many on each node, and the connections that hold them. */
export interface TopicSubscribers {
  readonly byNode: NodeSubscribers[];
  /** At most `MAX_PER_NODE` per node, by node, oldest first. */
  readonly connections: FoundConnection[];
}

/** Lists every connection (up to `MAX_PER_NODE` per node): browsing, not searching. */
export const LOOKUP_ALL = '*';

/**
 * Which connections a lookup `query` names on node `nodeId`, as a test over
 * connection id, user key and display name, or null when it names none there:
 *
 * - `*`: every connection;
 * - `<nodeId>/` or `<nodeId>/<prefix>`: that node's connections (browse a
 *   node), or those whose id starts with `prefix`;
 * - anything else: connections whose id or user key starts with it (user
 *   keys compared without case), or whose display name (`admin.displayName`)
 *   contains it, without case: `c1`, `u_3f`, `ann` or `lovelace` find `c12`,
 *   `u_3f9c…`, `Anna` and "Ada Lovelace".
 */
export function lookupMatcher(query: string, nodeId: string): ((fields: LookupFields) => boolean) | null {
  if (query === LOOKUP_ALL) return () => true;
  const slash = query.lastIndexOf('/');
  if (slash > 0) {
    if (query.slice(0, slash) !== nodeId) return null;
    const prefix = query.slice(slash + 1);
    return ({ connectionId }) => connectionId.startsWith(prefix);
  }
  const lower = query.toLowerCase();
  return ({ connectionId, userKey, displayName }) =>
    connectionId.startsWith(query) ||
    (userKey !== null && userKey.toLowerCase().startsWith(lower)) ||
    (displayName !== null && displayName.toLowerCase().includes(lower));
}

/** Exact matches of `query` (the id, the user key or the display name itself) before the others. */
function exactness(connection: FoundConnection, query: string): number {
  const wanted = query.slice(query.lastIndexOf('/') + 1);
  const lower = query.toLowerCase();
  return connection.connectionId === wanted || connection.userKey === query || connection.displayName?.toLowerCase() === lower ? 0 : 1;
}

/**
 * Finds connections by id, user key or display name (see `lookupMatcher`), on every node: the asking node publishes the question on `LOOKUP_TOPIC`,
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
      readonly describe: (matches: (fields: LookupFields) => boolean, limit: number) => ConnectionSummary[];
      /** This node's local subscribers of `topic` (0 when it has none). */
      readonly subscribers: (topic: string) => number;
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
    const found: FoundConnection[] = [];
    for (const { nodeId, answer } of await this.ask({ kind: 'connections', query }, nodeIds, timeoutMs)) {
      if (answer.kind === 'connections') for (const connection of answer.connections) found.push({ ...connection, nodeId });
    }
    return this.sorted(found, query);
  }

  /** The local subscribers of `topic` on each node of `nodeIds` that answered within `timeoutMs`, by node id, and their connections. */
  async subscribers(topic: string, nodeIds: readonly string[], timeoutMs: number): Promise<TopicSubscribers> {
    const byNode: NodeSubscribers[] = [];
    const connections: FoundConnection[] = [];
    for (const { nodeId, answer } of await this.ask({ kind: 'subscribers', topic }, nodeIds, timeoutMs)) {
      if (answer.kind !== 'subscribers') continue;
      byNode.push({ nodeId, subscribers: answer.subscribers });
      for (const connection of answer.connections ?? []) connections.push({ ...connection, nodeId });
    }
    return {
      byNode: byNode.sort((a, b) => a.nodeId.localeCompare(b.nodeId)),
      connections: connections.sort((a, b) => a.nodeId.localeCompare(b.nodeId) || a.connectedAt - b.connectedAt),
    };
  }

  /** Asks every node (this one answers too, through the broker); resolves once every node of `nodeIds` answered or `timeoutMs` passed. */
  private async ask(question: Question, nodeIds: readonly string[], timeoutMs: number): Promise<{ nodeId: string; answer: Answer }[]> {
    if (!this.broker) return [{ nodeId: this.settings.nodeId, answer: this.answer(question) }];
    const requestId = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const answers: { nodeId: string; answer: Answer }[] = [];
    await new Promise<void>((resolve) => {
      this.pending.set(requestId, { answers, answered: new Set(), expected: new Set(nodeIds), done: resolve });
      timer = setTimeout(resolve, timeoutMs);
      this.publish({ type: 'ask', requestId, question }).catch((error: unknown) => {
        this.settings.onError(error);
        resolve();
      });
    });
    clearTimeout(timer);
    this.pending.delete(requestId);
    return answers;
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

  private answer(question: Question): Answer {
    if (question.kind === 'subscribers') {
      const { topic } = question;
      const connections = this.settings.describe(({ topics }) => topics().includes(topic), MAX_PER_NODE);
      return { kind: 'subscribers', subscribers: this.settings.subscribers(topic), connections };
    }
    const matches = lookupMatcher(question.query, this.settings.nodeId);
    return { kind: 'connections', connections: matches ? this.settings.describe(matches, MAX_PER_NODE) : [] };
  }

  private receive(data: string): void {
    let message: LookupMessage;
    try {
      message = JSON.parse(data) as LookupMessage;
    } catch (error) {
      this.settings.onError(error);
      return;
    }
    if (message.type === 'ask') {
      const { question } = message;
      const known = (question?.kind === 'connections' && typeof question.query === 'string') || (question?.kind === 'subscribers' && typeof question.topic === 'string');
      if (!known) return; // a newer node's question this one cannot answer: it times out there
      this.publish({ type: 'answer', requestId: message.requestId, nodeId: this.settings.nodeId, answer: this.answer(question) }).catch(this.settings.onError);
      return;
    }
    if (message.type !== 'answer') return;
    const pending = this.pending.get(message.requestId);
    if (!pending || pending.answered.has(message.nodeId)) return;
    pending.answered.add(message.nodeId);
    pending.answers.push({ nodeId: message.nodeId, answer: message.answer });
    if ([...pending.expected].every((nodeId) => pending.answered.has(nodeId))) pending.done();
  }

  private async publish(message: LookupMessage): Promise<void> {
    await this.broker?.publish(LOOKUP_TOPIC, JSON.stringify(message), RETENTION);
  }
}
