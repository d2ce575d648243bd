/**
 * A real OpenTelemetry SDK for tests (`@herald/test-kit/otel`): a tracer
 * provider with an in-memory exporter, registered globally with the
 * AsyncLocalStorage context manager and the W3C trace-context propagator,
 * as an app's Node SDK would be; `until` waits for a span without polling.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { withTimeout } from './waits.js';

export type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** The registered SDK of one test: what it recorded, and how to wait for more. */
export interface RecordedTraces {
  /** Every span ended so far, in the order they ended. */
  spans(): ReadableSpan[];
  /** Resolves with the first ended span `match` accepts (one already ended included), bounded by `timeoutMs`. */
  until(match: (span: ReadableSpan) => boolean, label: string, timeoutMs?: number): Promise<ReadableSpan>;
  /** Unregisters the SDK (provider, context manager, propagator) and forgets the spans (`Cleanup.add` calls it). */
  close(): Promise<void>;
}

/** Registers an SDK globally until `close()`: one at a time per process. */
export function recordTraces(): RecordedTraces {
  const exporter = new InMemorySpanExporter();
  const waiters = new Set<(span: ReadableSpan) => void>();
  const notify: SpanProcessor = {
    onStart: () => undefined,
    onEnd: (span) => {
      for (const waiter of [...waiters]) waiter(span);
    },
    forceFlush: async () => undefined,
    shutdown: async () => undefined,
  };
  // The exporter first: a waiter woken by `notify` finds the span among `spans()`.
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter), notify] });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return {
    spans: () => exporter.getFinishedSpans(),
    until(match, label, timeoutMs = 10_000) {
      const found = exporter.getFinishedSpans().find(match);
      if (found) return Promise.resolve(found);
      let waiter: ((span: ReadableSpan) => void) | null = null;
      const ended = new Promise<ReadableSpan>((resolve) => {
        waiter = (span) => {
          if (match(span)) resolve(span);
        };
        waiters.add(waiter);
      });
      return withTimeout(ended, timeoutMs, label).finally(() => {
        if (waiter) waiters.delete(waiter);
      });
    },
    async close() {
      trace.disable();
      context.disable();
      propagation.disable();
      await provider.shutdown();
      exporter.reset();
    },
  };
}

/** A span's parent span id, if it has a parent. */
export function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}
