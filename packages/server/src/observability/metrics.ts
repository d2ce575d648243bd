import type * as PromClientModule from 'prom-client';
import type { Histogram, Registry } from 'prom-client';
import { RefusalReason } from '../errors.js';
import type { MetricsRegistry } from '../options.js';
import { ServerEvents } from './serverEvents.js';

/** prom-client's module, as `loadPromClient` imports it. */
export type PromClient = typeof PromClientModule;

/**
 * Imports prom-client. It is an optional peer dependency, imported only for a
 * server with metrics on, so a server with `metrics: false` runs without it
 * installed; with metrics on and prom-client missing, startup fails here with
 * what to do instead of a bare module-not-found.
 */
export async function loadPromClient(): Promise<PromClient> {
  try {
    return await import('prom-client');
  } catch (error) {
    if (!isMissingPackage(error, 'prom-client')) throw error;
    throw new Error(
      "createHeraldServer: metrics are on, but the optional peer dependency prom-client is not installed. Run `npm install prom-client`, or pass `metrics: false` to serve no /metrics.",
      { cause: error },
    );
  }
}

/** Node's answer to importing a package that is not installed (ERR_MODULE_NOT_FOUND naming it). */
function isMissingPackage(error: unknown, name: string): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && error.message.includes(`'${name}'`);
}

/** Publish-to-send latency buckets, in seconds: 1 ms to 10 s. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The numbers one server keeps about itself, and their Prometheus view.
 *
 * The hot path only bumps plain fields (`framesOut++`, `bytesOut += n`):
 * prom-client's `inc()` allocates a label object per call, so the registry
 * reads these fields when it is scraped instead. Labelled counts (errors by
 * code, refusals by reason) are rare events and live in small maps.
 */
export class ServerMetrics {
  connectionsOpened = 0;
  connectionsClosed = 0;
  /** Subscriptions running now, over every connection. */
  subscriptions = 0;
  framesIn = 0;
  framesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  slowConsumerCloses = 0;
  /** Connects, refusals, revocations and slow consumers, for the admin page's event log. */
  readonly events = new ServerEvents();
  private readonly errors = new Map<string, number>();
  private readonly refusals = new Map<string, number>();
  private readonly latency: Histogram | null;
  readonly registry: MetricsRegistry | null;

  /**
   * `options === null`: count, but register nothing (metrics turned off).
   * `registry` absent: a new one of this server's own.
   */
  constructor(
    options: {
      prom: PromClient;
      registry: MetricsRegistry | undefined;
      prefix: string;
      openConnections: () => number;
      /** The counts of the server's `herald` (zeros without one). */
      channels: () => { readonly published: number; readonly resumed: number };
    } | null,
  ) {
    if (!options) {
      this.registry = null;
      this.latency = null;
      return;
    }
    const { prom, prefix, openConnections, channels } = options;
    const { Counter, Gauge, Histogram } = prom;
    // An app's registry is prom-client's own (`MetricsRegistry` names only the part Herald's types need).
    const registry = (options.registry as Registry | undefined) ?? new prom.Registry();
    this.registry = registry;
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({
        name: `${prefix}${name}`,
        help,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    const labelled = (name: string, help: string, label: string, read: () => Iterable<[string, number]>) =>
      new Counter({
        name: `${prefix}${name}`,
        help,
        labelNames: [label],
        registers: [registry],
        collect() {
          this.reset();
          for (const [value, count] of read()) this.inc({ [label]: value }, count);
        },
      });

    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name: `${prefix}${name}`,
        help,
        registers: [registry],
        collect() {
          this.set(read());
        },
      });

    gauge('connections', 'WebSocket connections open now', openConnections);
    gauge('subscriptions', 'Subscriptions running now', () => this.subscriptions);
    counter('connections_opened_total', 'WebSocket connections accepted', () => this.connectionsOpened);
    counter('connections_closed_total', 'WebSocket connections that ended', () => this.connectionsClosed);
    counter('messages_received_total', 'WebSocket frames received', () => this.framesIn);
    counter('messages_sent_total', 'WebSocket frames sent', () => this.framesOut);
    counter('received_bytes_total', 'Bytes of WebSocket frames received (before decompression)', () => this.bytesIn);
    counter('sent_bytes_total', 'Bytes of WebSocket frames sent (before compression)', () => this.bytesOut);
    counter('channel_messages_published_total', "Messages published through this server's herald channels", () => channels().published);
    counter(
      'channel_streams_resumed_total',
      'Channel streams opened with a position to resume after (clients back from a reconnect)',
      () => channels().resumed,
    );
    counter('slow_consumer_closes_total', 'Connections closed with 4002 because they stopped reading', () => this.slowConsumerCloses);
    labelled('errors_total', 'Error answers sent, by Herald code (else tRPC code), and protocol errors by ws code', 'code', () =>
      this.errors.entries(),
    );
    labelled('refusals_total', 'Connections and requests turned away, by the limit or check that refused them', 'reason', () =>
      withZeros(this.refusals, Object.values(RefusalReason)),
    );
    this.latency = new Histogram({
      name: `${prefix}delivery_latency_seconds`,
      help: 'Time from a live channel message being published (its stream id) to its first frame leaving this server',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
  }

  error(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  refusal(reason: RefusalReason): void {
    this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + 1);
  }

  /** How many times `reason` refused something so far (tests and health use it). */
  refusalCount(reason: RefusalReason): number {
    return this.refusals.get(reason) ?? 0;
  }

  /**
   * A live message's publish-to-send latency. Stream ids start with the
   * publish time in ms (the broker's clock: Redis's for the Redis broker).
   */
  observeDelivery(streamId: string, nowMs: number): void {
    if (!this.latency) return;
    const publishedAt = Number.parseInt(streamId, 10);
    if (Number.isFinite(publishedAt)) this.latency.observe(Math.max(0, nowMs - publishedAt) / 1000);
  }

  /** The Prometheus text exposition. */
  async render(): Promise<{ contentType: string; body: string }> {
    if (!this.registry) return { contentType: 'text/plain', body: '' };
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

function* withZeros(counts: Map<string, number>, known: readonly string[]): Iterable<[string, number]> {
  for (const key of known) yield [key, counts.get(key) ?? 0];
  for (const entry of counts) if (!known.includes(entry[0])) yield entry;
}
