import type { CallType } from '../sessions/session.js';

/**
 * Spans of a client's calls, for the `tracing` option: `openTelemetry()`
 * from `@herald/client/otel` makes one on `@opentelemetry/api`. The client
 * itself never imports OpenTelemetry: without this option a call costs
 * nothing more, and an app that does not trace leaves the API out of its bundle.
 */
export interface ClientTracing {
  /** Starts the span of a call; null when nothing records it (no SDK registered): the call then carries no trace context. */
  startCall(type: CallType, path: string): ClientCallSpan | null;
}

/** One call's span, as the client drives it. */
export interface ClientCallSpan {
  /**
   * Its trace context as propagation fields (W3C `traceparent` and
   * `tracestate` with OpenTelemetry's default propagator), sent beside the
   * call's params as `params.trace`: a Herald server continues the trace.
   */
  readonly carrier: Readonly<Record<string, string>> | null;
  /** Ends it: a query or mutation when answered, a subscription once started; failed when `error` is given. */
  end(error?: { readonly code: string; readonly message: string }): void;
}
