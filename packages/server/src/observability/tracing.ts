import type * as OtelApi from '@opentelemetry/api';
import type { Context, Link, Span, SpanOptions, Tracer, TracerProvider } from '@opentelemetry/api';

/**
 * OpenTelemetry spans for calls, subscriptions, publishes, broker round
 * trips and delivery batches ([observability.md](../../../../docs/observability.md)).
 *
 * `@opentelemetry/api` is an optional peer dependency: `loadTracing()`
 * imports it when it is installed and leaves tracing off when it is not.
 * Every `start…` below first asks whether an SDK is registered (the global
 * tracer provider's delegate is not the API's no-op one): without one it
 * returns null at the cost of that check, and the caller does nothing more
 * (no span object, no context switch, no trace context stored or sent).
 */

type Api = typeof OtelApi;

/** Propagation fields (W3C `traceparent` and `tracestate` with the default propagator), as the app's propagator writes them. */
export type TraceCarrier = Record<string, string>;

/** The instrumentation scope of Herald's server spans. */
export const TRACER_NAME = '@herald/server';
/** `rpc.system` of call spans: tRPC is the protocol Herald speaks. */
export const RPC_SYSTEM = 'trpc';
/** `messaging.system` of publish and delivery spans. */
export const MESSAGING_SYSTEM = 'herald';

/** Carrier fields a request may name, and the length of each: more is not trace context, and is ignored. */
const MAX_CARRIER_FIELDS = 8;
const MAX_CARRIER_VALUE = 512;

let api: Api | null = null;
let noopProvider: TracerProvider | null = null;
let loading: Promise<void> | null = null;
let tracerOf: { provider: TracerProvider; tracer: Tracer } | null = null;

/**
 * Imports `@opentelemetry/api` once, if it is installed (an optional peer:
 * without it every span start answers null). `createHeraldServer` awaits it;
 * `createHerald` starts it. Rejects only when the package is there but fails
 * to load.
 */
export function loadTracing(): Promise<void> {
  loading ??= import('@opentelemetry/api').then(
    (loaded) => {
      api = loaded;
      // An unregistered proxy's delegate is the API's one no-op provider.
      noopProvider = new loaded.ProxyTracerProvider().getDelegate();
    },
    (error: unknown) => {
      if (!isMissing(error)) throw error;
    },
  );
  return loading;
}

function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((error as Error).message).includes('@opentelemetry/api');
}

/** The tracer of the registered SDK; null when the API is not installed or no SDK is registered. */
function activeTracer(): Tracer | null {
  if (api === null) return null;
  const global = api.trace.getTracerProvider();
  const provider = global instanceof api.ProxyTracerProvider ? global.getDelegate() : global;
  if (provider === noopProvider) return null;
  if (tracerOf?.provider !== provider) tracerOf = { provider, tracer: provider.getTracer(TRACER_NAME) };
  return tracerOf.tracer;
}

/** Whether spans are recorded now: an SDK is registered. */
export function tracingActive(): boolean {
  return activeTracer() !== null;
}

/** One span Herald started (its OpenTelemetry types stay inside this module, out of Herald's declarations). */
export interface HeraldSpan {
  /** Runs `fn` with this span active, so the spans `fn` starts (a procedure's publishes) are its children. */
  run<T>(fn: () => T): T;
  /** Its trace context as the app's propagator writes it (stored with a published message); null when it writes nothing. */
  carrier(): TraceCarrier | null;
  set(name: string, value: string | number | boolean): void;
  /** Marks it failed with `cause` (its `code`, when it has one, as `error.type`). */
  fail(cause: unknown, code?: string): void;
  /** Ends it; a second call does nothing. */
  end(): void;
}

class OtelSpan implements HeraldSpan {
  readonly #api: Api;
  readonly #span: Span;
  readonly #context: Context;
  #ended = false;

  constructor(otel: Api, span: Span, parent: Context) {
    this.#api = otel;
    this.#span = span;
    this.#context = otel.trace.setSpan(parent, span);
  }

  run<T>(fn: () => T): T {
    return this.#api.context.with(this.#context, fn);
  }

  carrier(): TraceCarrier | null {
    const carrier: TraceCarrier = {};
    this.#api.propagation.inject(this.#context, carrier);
    return Object.keys(carrier).length > 0 ? carrier : null;
  }

  set(name: string, value: string | number | boolean): void {
    this.#span.setAttribute(name, value);
  }

  fail(cause: unknown, code?: string): void {
    const message = cause instanceof Error ? cause.message : String(cause);
    this.#span.setStatus({ code: this.#api.SpanStatusCode.ERROR, message });
    this.#span.setAttribute('error.type', code ?? (cause instanceof Error ? cause.name : 'Error'));
    if (cause instanceof Error) this.#span.recordException(cause);
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#span.end();
  }
}

/**
 * Starts a span (null when nothing records it). `parent`: a carrier from
 * elsewhere (null: none, a new trace); absent, the active context is the parent.
 */
function start(name: string, kind: 'server' | 'client' | 'producer' | 'consumer' | 'internal', options: {
  readonly attributes: SpanOptions['attributes'];
  readonly parent?: TraceCarrier | null;
  readonly links?: readonly (TraceCarrier | null)[];
}): HeraldSpan | null {
  const tracer = activeTracer();
  if (tracer === null || api === null) return null;
  const otel = api;
  const parent = options.parent === undefined ? otel.context.active() : options.parent === null ? otel.ROOT_CONTEXT : contextOf(otel, options.parent);
  const links: Link[] = [];
  for (const carrier of options.links ?? []) {
    if (!carrier) continue;
    const context = otel.trace.getSpanContext(contextOf(otel, carrier));
    if (context && otel.isSpanContextValid(context)) links.push({ context });
  }
  const span = tracer.startSpan(name, { kind: SPAN_KINDS[kind](otel), attributes: options.attributes, links }, parent);
  return new OtelSpan(otel, span, parent);
}

const SPAN_KINDS = {
  server: (otel: Api) => otel.SpanKind.SERVER,
  client: (otel: Api) => otel.SpanKind.CLIENT,
  producer: (otel: Api) => otel.SpanKind.PRODUCER,
  consumer: (otel: Api) => otel.SpanKind.CONSUMER,
  internal: (otel: Api) => otel.SpanKind.INTERNAL,
} as const;

function contextOf(otel: Api, carrier: TraceCarrier): Context {
  return otel.propagation.extract(otel.ROOT_CONTEXT, carrier);
}

/**
 * The trace context a request carries beside its params (`params.trace`,
 * which Herald's client sends): an object of string fields, or null. Anything
 * else is not trace context and is ignored, as W3C trace context says of a
 * malformed `traceparent` (the call starts a new trace).
 */
export function carrierOf(value: unknown): TraceCarrier | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const entries = Object.entries(value);
  if (entries.length === 0 || entries.length > MAX_CARRIER_FIELDS) return null;
  for (const [, field] of entries) {
    if (typeof field !== 'string' || field.length > MAX_CARRIER_VALUE) return null;
  }
  return value as TraceCarrier;
}

/**
 * The trace context of an HTTP request's headers: the fields the registered
 * propagator reads (W3C `traceparent` and `tracestate` with the default
 * one), each header's first value, bounded as `carrierOf` bounds a
 * WebSocket request's; null when there is none.
 */
export function traceOfHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): TraceCarrier | null {
  if (api === null) return null;
  const carrier: TraceCarrier = {};
  for (const field of api.propagation.fields().slice(0, MAX_CARRIER_FIELDS)) {
    const value = headers[field.toLowerCase()];
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined && first.length <= MAX_CARRIER_VALUE) carrier[field] = first;
  }
  return Object.keys(carrier).length > 0 ? carrier : null;
}

/**
 * Runs `fn` with an HTTP request's trace context active, so the call spans
 * it starts (`startCallSpan` without a parent) continue the caller's trace.
 * A span already active (the app's HTTP instrumentation made one for the
 * request, from the same headers) stays the parent.
 */
export function withRequestTrace<T>(carrier: TraceCarrier | null, fn: () => T): T {
  if (api === null || carrier === null) return fn();
  const active = api.context.active();
  if (api.trace.getSpan(active) !== undefined) return fn();
  return api.context.with(contextOf(api, carrier), fn);
}

/**
 * The span of a query, mutation or subscription start, named after its path
 * (OTel RPC conventions: `rpc.system` `trpc`, `rpc.method` the path), the
 * child of the caller's span when the request carried its trace context
 * (`parent`, or, absent, the active context: the HTTP door's `withRequestTrace`).
 */
export function startCallSpan(type: 'query' | 'mutation' | 'subscription', path: string, parent?: TraceCarrier | null): HeraldSpan | null {
  return start(path, 'server', {
    ...(parent === undefined ? {} : { parent }),
    attributes: { 'rpc.system': RPC_SYSTEM, 'rpc.method': path, 'herald.call.type': type },
  });
}

/**
 * The span of a subscription's end (it ended, was stopped, or its
 * connection closed), linked to the span of its start: a subscription may
 * live for hours, so its start and end are two short spans, not one long one.
 */
export function recordSubscriptionEnd(path: string, started: TraceCarrier | null, reason: string): void {
  const span = start(`${path} end`, 'server', {
    parent: null,
    links: [started],
    attributes: { 'rpc.system': RPC_SYSTEM, 'rpc.method': path, 'herald.call.type': 'subscription', 'herald.subscription.end': reason },
  });
  span?.end();
}

/**
 * The span of one publish (OTel messaging conventions: `publish <channel>`,
 * kind producer), the child of the active span (the call that publishes).
 * Its `carrier()` is stored with the message.
 */
function startPublishSpan(channel: string, topic: string): HeraldSpan | null {
  return start(`publish ${channel}`, 'producer', {
    attributes: {
      'messaging.system': MESSAGING_SYSTEM,
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
      'messaging.destination.name': topic,
      'messaging.destination.template': channel,
    },
  });
}

/**
 * The span of one delivery batch on this node (kind consumer): the child of
 * the publish of its first message, linked to the publish of each message
 * (a batch may hold messages of several traces).
 */
export function startDeliverySpan(topic: string, traces: readonly (TraceCarrier | null)[], subscribers: number): HeraldSpan | null {
  const parent = traces.find((trace) => trace !== null) ?? null;
  return start(`process ${channelOf(topic)}`, 'consumer', {
    parent,
    links: traces,
    attributes: {
      'messaging.system': MESSAGING_SYSTEM,
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'deliver',
      'messaging.destination.name': topic,
      'messaging.destination.template': channelOf(topic),
      'messaging.batch.message_count': traces.length,
      'herald.delivery.subscribers': subscribers,
    },
  });
}

/** A broker topic's channel: the name before the key (`<channel>:<key>`). */
function channelOf(topic: string): string {
  const split = topic.indexOf(':');
  return split < 0 ? topic : topic.slice(0, split);
}

/**
 * Runs a publish as the child of a new publish span; `publish` is given the
 * trace context to store with the message (undefined when nothing records spans).
 */
export async function tracedPublish(channel: string, topic: string, publish: (trace: string | undefined) => Promise<string>): Promise<string> {
  const span = startPublishSpan(channel, topic);
  if (span === null) return publish(undefined);
  try {
    const id = await span.run(() => publish(storedTrace(span.carrier())));
    span.set('messaging.message.id', id);
    return id;
  } catch (error) {
    span.fail(error, codeOf(error));
    throw error;
  } finally {
    span.end();
  }
}

/** An error's code for `error.type`: a Herald error's `heraldCode`, else a tRPC error's `code`. */
export function codeOf(error: unknown): string | undefined {
  const { heraldCode, code } = (error ?? {}) as { heraldCode?: unknown; code?: unknown };
  if (typeof heraldCode === 'string') return heraldCode;
  return typeof code === 'string' ? code : undefined;
}

/** The span of one broker round trip (kind client), the child of the active span. */
function startBrokerSpan(system: string, operation: string): HeraldSpan | null {
  return start(`${system} ${operation}`, 'client', {
    attributes: { 'db.system.name': system, 'db.operation.name': operation, 'herald.broker.operation': operation },
  });
}

/** Runs `fn` as the child of a new broker span, which ends when its promise settles (failed when it rejects). */
export async function tracedBrokerCall<T>(system: string, operation: string, fn: () => Promise<T>): Promise<T> {
  const span = startBrokerSpan(system, operation);
  if (span === null) return fn();
  try {
    return await span.run(fn);
  } catch (error) {
    span.fail(error, codeOf(error));
    throw error;
  } finally {
    span.end();
  }
}

/** Serializes a carrier for storage beside a message (one line of JSON); null stays null. */
export function storedTrace(carrier: TraceCarrier | null): string | undefined {
  return carrier === null ? undefined : JSON.stringify(carrier);
}

/** A stored carrier back; null when there is none or it does not parse. */
export function traceOfStored(stored: string | undefined): TraceCarrier | null {
  if (stored === undefined || stored === '') return null;
  try {
    return carrierOf(JSON.parse(stored));
  } catch {
    return null;
  }
}
