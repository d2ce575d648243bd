// What a Herald bench server does about OpenTelemetry (`ServerConfig.tracing`):
//   absent: @opentelemetry/api cannot be imported, as in an app that does not install it
//   no-sdk: the API is installed but no SDK is registered (every other scenario runs so)
//   sdk:    a Node SDK's parts are registered (AsyncLocalStorage context, W3C propagation,
//           spans recorded and sampled), with no exporter: the cost of making the spans
import { register } from 'node:module';
import type { TracingMode } from '../lib/protocol.js';

/** A resolve hook that answers `@opentelemetry/api` as Node answers a package that is not installed. */
const HIDE_API_HOOK = `export async function resolve(specifier, context, next) {
  if (specifier === '@opentelemetry/api' || specifier.startsWith('@opentelemetry/api/')) {
    const error = new Error("Cannot find package '@opentelemetry/api' imported from " + context.parentURL);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}`;

/** Sets up `mode` in this process; call it before Herald is created. */
export async function setUpTracing(mode: TracingMode): Promise<void> {
  if (mode === 'no-sdk') return;
  if (mode === 'absent') {
    register(`data:text/javascript,${encodeURIComponent(HIDE_API_HOOK)}`);
    const found = await import('@opentelemetry/api').then(() => true, () => false);
    if (found) throw new Error('tracing "absent": @opentelemetry/api could still be imported');
    return;
  }
  const [{ context, propagation, trace }, { AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }, { BasicTracerProvider }] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/sdk-trace-base'),
  ]);
  trace.setGlobalTracerProvider(new BasicTracerProvider());
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}
