import type { AnyRouter } from '@trpc/server';
import { transformer as heraldTransformer } from '@herald/shared';
import { inputTransformerOf, isPlainJson } from '../calls/plainJson.js';
import type { ServerConfig } from '../config.js';
import { tracedProcedures } from './tracedProcedures.js';

/**
 * The router as the HTTP door hands it to tRPC's adapter: a view sharing
 * the router's procedures, so nothing about the WebSocket door changes, with
 *
 * - the input decoder the WebSocket door uses (`inputTransformerOf`): plain
 *   inputs skip superjson, the rest meet the input limits before decoding;
 * - an output encoder that, like the WebSocket door's `Wire`, leaves plain
 *   JSON to `JSON.stringify` as `{ json: value }` (the same text) instead of
 *   superjson's walk, which copies the whole answer first: a large answer
 *   costs the server one copy less, in time and in memory;
 * - SSE pings every `pingIntervalMs` and a client inactivity timeout of
 *   `pingIntervalMs + pongTimeoutMs`, unless the app set either;
 * - its procedures looked up through `tracedProcedures`: each call a server
 *   span while an OpenTelemetry SDK records spans.
 */
export function routerForHttp<TRouter extends AnyRouter>(router: TRouter, heartbeat: ServerConfig['heartbeat']): TRouter {
  const config = router._def._config;
  const input = inputTransformerOf(config.transformer);
  const transformer =
    config.transformer.output === heraldTransformer
      ? { ...input, output: { ...config.transformer.output, serialize: (value: unknown) => (isPlainJson(value) ? { json: value } : heraldTransformer.serialize(value)) } }
      : input;
  const sse =
    config.sse?.ping || config.sse?.client
      ? config.sse
      : {
          ...config.sse,
          ping: { enabled: true, intervalMs: heartbeat.pingIntervalMs },
          client: { reconnectAfterInactivityMs: heartbeat.pingIntervalMs + heartbeat.pongTimeoutMs },
        };
  return { ...router, _def: { ...router._def, procedures: tracedProcedures(router._def.procedures), _config: { ...config, transformer, sse } } };
}
