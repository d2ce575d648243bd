import type { AnyRouter } from '@trpc/server';
import { transformer as heraldTransformer } from '@herald/shared';
import { isPlainJson } from '@herald/shared/internal';
import { inputTransformerOf } from '../calls/plainJson.js';
import type { ServerConfig } from '../config.js';
import { metered, paced } from './answerMeter.js';

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
 * - procedures whose calls the request's `AnswerMeter` paces, so the calls
 *   of a batch whose results are already past `maxHttpAnswerBytes` do not
 *   run (a proxy over the router's procedures, so procedures a lazy router
 *   loads later are paced too);
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
  return { ...router, _def: { ...router._def, _config: { ...config, transformer, sse }, procedures: pacedProcedures(router._def.procedures) } };
}

/** `procedures` as a record whose procedures are `paced`, each wrapped once. */
function pacedProcedures<T extends object>(procedures: T): T {
  const views = new WeakMap<object, unknown>();
  return new Proxy(procedures, {
    get(target, path, receiver) {
      const procedure: unknown = Reflect.get(target, path, receiver);
      if (typeof procedure !== 'function') return procedure;
      let view = views.get(procedure);
      if (view === undefined) {
        view = paced(procedure as (opts: never) => Promise<unknown>);
        views.set(procedure, view);
      }
      return view;
    },
  });
}
