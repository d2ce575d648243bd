import type { AnyRouter } from '@trpc/server';
import { transformer as heraldTransformer } from '@herald/shared';
import { isPlainJson } from '@herald/shared/internal';
import { inputTransformerOf } from '../calls/plainJson.js';
import type { ServerConfig } from '../config.js';
import { metered, paced } from './answerMeter.js';
import { tracedProcedure, type Procedure } from './tracedProcedures.js';

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
 *   run (`procedureViews`);
 * - SSE pings every `pingIntervalMs` and a client inactivity timeout of
 *   `pingIntervalMs + pongTimeoutMs`, unless the app set either;
 * - each call a server span while an OpenTelemetry SDK records spans
 *   (tracedProcedures.ts).
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
  return { ...router, _def: { ...router._def, _config: { ...config, transformer, sse }, procedures: procedureViews(router._def.procedures) } };
}

/**
 * `procedures` as the HTTP door calls them: each one `paced` by the
 * request's meter and traced (`tracedProcedure`), wrapped once. A proxy over
 * the router's own procedures object, so the procedures a lazy router loads
 * into it later are wrapped too.
 */
function procedureViews(procedures: AnyRouter['_def']['procedures']): AnyRouter['_def']['procedures'] {
  const views = new WeakMap<Procedure, Procedure>();
  return new Proxy(procedures, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      const procedure = value as Procedure;
      let view = views.get(procedure);
      if (!view) views.set(procedure, (view = paced(tracedProcedure(procedure))));
      return view;
    },
  });
}
