import type { AnyRouter } from '@trpc/server';
import { transformer as heraldTransformer } from '@herald/shared';
import { inputTransformerOf, isPlainJson } from '../calls/plainJson.js';
import type { ServerConfig } from '../config.js';
import { metered } from './answerMeter.js';

/**
 * The router as the HTTP door hands it to tRPC's adapter: a view sharing
 * the router's procedures, so nothing about the WebSocket door changes, with
 *
 * - the input decoder the WebSocket door uses (`inputTransformerOf`): plain
 *   inputs skip superjson, the rest meet the input limits before decoding;
 * - an output encoder that, like the WebSocket door's `Wire`, leaves plain
 *   JSON to `JSON.stringify` as `{ json: value }` (the same text) instead of
 *   superjson's walk, which copies the whole answer first: a large answer
 *   costs the server one copy less, in time and in memory; what it makes
 *   is counted by the request's `AnswerMeter` (answerMeter.ts), so an answer
 *   over its limits is refused before it is built whole;
 * - SSE pings every `pingIntervalMs` and a client inactivity timeout of
 *   `pingIntervalMs + pongTimeoutMs`, unless the app set either.
 */
export function routerForHttp<TRouter extends AnyRouter>(router: TRouter, heartbeat: ServerConfig['heartbeat']): TRouter {
  const config = router._def._config;
  const input = inputTransformerOf(config.transformer);
  const serialize =
    config.transformer.output === heraldTransformer
      ? (value: unknown) => (isPlainJson(value) ? { json: value } : heraldTransformer.serialize(value))
      : (value: unknown) => config.transformer.output.serialize(value);
  const transformer = { ...input, output: { ...config.transformer.output, serialize: metered(serialize) } };
  const sse =
    config.sse?.ping || config.sse?.client
      ? config.sse
      : {
          ...config.sse,
          ping: { enabled: true, intervalMs: heartbeat.pingIntervalMs },
          client: { reconnectAfterInactivityMs: heartbeat.pingIntervalMs + heartbeat.pongTimeoutMs },
        };
  return { ...router, _def: { ...router._def, _config: { ...config, transformer, sse } } };
}
