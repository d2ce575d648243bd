/**
 * OpenTelemetry for `@herald/client`: pass `openTelemetry()` as the
 * client's `tracing` option and each query, mutation and subscription start
 * is a span (kind client, named after the procedure's path), whose trace
 * context goes out with the call so a Herald server's spans (the call, its
 * publishes, their deliveries) join the same trace. Needs
 * `@opentelemetry/api` (an optional peer dependency, imported by this entry
 * only); spans are recorded only while an SDK is registered, and without one
 * a call costs one check. See docs/observability.md.
 *
 * @example
 * ```ts
 * import { createHeraldClient } from '@herald/client';
 * import { openTelemetry } from '@herald/client/otel';
 *
 * const client = createHeraldClient<AppRouter>({ url: 'wss://chat.example.com/ws', tracing: openTelemetry() });
 * ```
 * @module @herald/client/otel
 */
import { context, propagation, ProxyTracerProvider, SpanKind, SpanStatusCode, trace, type Tracer, type TracerProvider } from '@opentelemetry/api';
import type { ClientCallSpan, ClientTracing } from './calls/tracing.js';

export type { ClientCallSpan, ClientTracing } from './calls/tracing.js';

/** The instrumentation scope of the client's spans. */
export const CLIENT_TRACER_NAME = '@herald/client';

/** What `openTelemetry` takes. */
export interface OpenTelemetryOptions {
  /**
   * The tracer provider to record with.
   * @default the global one (`trace.getTracerProvider()`), checked at each call, so an SDK registered later is used
   */
  tracerProvider?: TracerProvider;
}

/** The API's no-op provider: what an unregistered proxy delegates to. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/** The client's `tracing` on OpenTelemetry's API (`createHeraldClient({ tracing: openTelemetry() })`). */
export function openTelemetry(options: OpenTelemetryOptions = {}): ClientTracing {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('openTelemetry: options must be an object such as { tracerProvider }, or nothing');
  }
  const given = options.tracerProvider;
  let cached: { provider: TracerProvider; tracer: Tracer } | null = null;
  const tracerNow = (): Tracer | null => {
    const global = given ?? trace.getTracerProvider();
    const provider = global instanceof ProxyTracerProvider ? global.getDelegate() : global;
    if (provider === NOOP_PROVIDER) return null;
    if (cached?.provider !== provider) cached = { provider, tracer: provider.getTracer(CLIENT_TRACER_NAME) };
    return cached.tracer;
  };
  return {
    startCall(type, path) {
      const tracer = tracerNow();
      if (tracer === null) return null;
      const parent = context.active();
      const span = tracer.startSpan(
        path,
        { kind: SpanKind.CLIENT, attributes: { 'rpc.system': 'trpc', 'rpc.method': path, 'herald.call.type': type } },
        parent,
      );
      const carrier: Record<string, string> = {};
      propagation.inject(trace.setSpan(parent, span), carrier);
      let ended = false;
      const callSpan: ClientCallSpan = {
        carrier: Object.keys(carrier).length > 0 ? carrier : null,
        end(error) {
          if (ended) return;
          ended = true;
          if (error) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
            span.setAttribute('error.type', error.code);
          }
          span.end();
        },
      };
      return callSpan;
    },
  };
}
