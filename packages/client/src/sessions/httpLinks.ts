import { httpSubscriptionLink, type Operation, type OperationLink, type TRPCClientError } from '@trpc/client';
// The links' own entries, so they stay in the HTTP transport's chunk (httpTransport.ts).
import { httpBatchLink } from '@trpc/client/links/httpBatchLink';
import { httpLink } from '@trpc/client/links/httpLink';
import { splitLink } from '@trpc/client/links/splitLink';
import type { AnyRouter } from '@trpc/server';
import { transformer } from '@herald/shared';
import { IDEMPOTENCY_KEY_HEADER } from '@herald/shared/internal';
import { parseError } from '../errors.js';
import type { EventSourceClass } from '../platform/types.js';
import { streamCredentialsFor } from './httpCredentials.js';

/** A value Herald's transformer could not revive, in place of the value (see `linkTransformer`). */
export class Unrevivable {
  constructor(readonly error: TRPCClientError<AnyRouter>) {}
}

/**
 * Herald's transformer for tRPC's HTTP links, except that a value it cannot
 * revive (a type this client does not know, say) comes out as an
 * `Unrevivable` instead of a throw. Inside the links a throw reads as a
 * broken link: the session would end and the call be resent, and fail, on
 * every session after. This way that one call fails with PARSE_ERROR.
 */
const linkTransformer = {
  serialize: (value: unknown): unknown => transformer.serialize(value),
  deserialize: (value: unknown): unknown => {
    try {
      return transformer.deserialize(value as never);
    } catch (cause) {
      return new Unrevivable(parseError('a value it could not revive', cause));
    }
  },
};

/** tRPC's message when an HTTP answer is not a tRPC response (`transformResult` in `@trpc/server`). */
export const NOT_A_TRPC_RESPONSE = 'Unable to transform response from server';

/** Longest GET URL a batch of queries may make before it is split (proxies refuse long URLs). */
const MAX_URL_LENGTH = 4_000;

/** What the HTTP session's links send with: its credentials, its stream tickets and its streams' `fetch`. */
export interface HttpLinkSettings {
  readonly EventSource: EventSourceClass;
  /** The `fetch` for queries and mutations; the runtime's own when undefined. */
  readonly fetch: typeof globalThis.fetch | undefined;
  /** The credential headers for a request about to start. */
  readonly credentials: () => Promise<Record<string, string>>;
  /** An event stream's URL with a new ticket (a browser's own EventSource sends no headers). */
  readonly ticketedUrl: () => Promise<string>;
  /** The `fetch` an event stream's EventSource connects with, given its call's trace context. */
  readonly streamFetch: (input: string | URL | Request, init: RequestInit | undefined, trace: Readonly<Record<string, string>> | undefined) => Promise<Response>;
}

/**
 * tRPC's own links, composed with `splitLink`, as the HTTP session runs
 * its calls (httpSession.ts): queries batched by `httpBatchLink`, each
 * mutation its own `httpLink` request (so it can carry its own
 * `Idempotency-Key` header), each subscription a Server-Sent Events stream
 * from `httpSubscriptionLink`. A call's trace context (`op.context.trace`)
 * goes as its request's headers (`traceparent`, `tracestate`), so a query
 * that carries one is sent alone rather than batched (a request carries
 * one `traceparent`, its call's).
 */
export function httpLinks(url: string, settings: HttpLinkSettings): OperationLink<AnyRouter> {
  const { credentials } = settings;
  const fetchOption = settings.fetch ? { fetch: settings.fetch } : {};
  return splitLink<AnyRouter>({
    condition: (op) => op.type === 'subscription',
    true: httpSubscriptionLink<AnyRouter, EventSourceClass>({
      transformer: linkTransformer,
      EventSource: settings.EventSource,
      ...(streamCredentialsFor(settings.EventSource) === 'ticket'
        ? { url: settings.ticketedUrl }
        : { url, eventSourceOptions: ({ op }) => ({ fetch: (input, init) => settings.streamFetch(input, init, traceOf(op)) }) }),
    }),
    false: splitLink<AnyRouter>({
      condition: (op) => op.type === 'mutation' || traceOf(op) !== undefined,
      true: httpLink<AnyRouter>({
        url,
        transformer: linkTransformer,
        ...fetchOption,
        headers: async ({ op }) => {
          const key = op.context['idempotencyKey'];
          return { ...(await credentials()), ...traceOf(op), ...(typeof key === 'string' ? { [IDEMPOTENCY_KEY_HEADER]: key } : {}) };
        },
      }),
      false: httpBatchLink<AnyRouter>({ url, transformer: linkTransformer, ...fetchOption, headers: credentials, maxURLLength: MAX_URL_LENGTH }),
    }),
  })({});
}

/** A call's trace context (the `tracing` option's carrier), sent as request headers (`traceparent`, `tracestate`). */
function traceOf(op: Operation): Readonly<Record<string, string>> | undefined {
  return op.context['trace'] as Readonly<Record<string, string>> | undefined;
}
