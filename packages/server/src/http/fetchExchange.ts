import { TRPCError, type AnyRouter } from '@trpc/server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { headOfRequest } from '../transport/requestHead.js';
import type { AdapterRun, HttpAnswer, HttpExchange } from './exchange.js';

/** What tRPC's adapters run with, whichever door: the router as the HTTP door sees it, the body bound, where errors go. */
export interface AdapterSettings<TRouter extends AnyRouter> {
  readonly router: TRouter;
  /** The HTTP door's path prefix (`httpPath`). */
  readonly endpoint: string;
  readonly maxPayloadBytes: number;
  readonly onError: (error: TRPCError, type: string, path: string | undefined) => void;
}

/** A fetch exchange, and the `Response` it settles on once the call path answered. */
export interface FetchExchange {
  readonly exchange: HttpExchange;
  readonly response: Promise<Response>;
}

/**
 * A fetch `Request` as an `HttpExchange`: every answer becomes the one
 * `Response` the handler returns, calls and streams through tRPC's fetch
 * adapter (a refusal thrown from its `createContext`, so it answers in its
 * own shape). The exchange is over when the client has read the answer's
 * body to its end, the runtime cancels it (the client left), or the
 * request's `signal` aborts; `destroy` errors the body, which ends the
 * runtime's response.
 *
 * Event streams are read by pulling (tRPC's SSE stream pulls its generator),
 * so a slow client leaves nothing queued here: the runtime reads the next
 * event only when it has sent the last, and the channel's per-subscriber
 * queue bounds what waits behind it (`boundWrites` has nothing to count).
 */
export function fetchExchange<TRouter extends AnyRouter>(settings: AdapterSettings<TRouter>, request: Request, target: { readonly url: URL; readonly address: string }): FetchExchange {
  const extraHeaders: Record<string, string> = {};
  const closers: (() => void)[] = [];
  let closed = false;
  let answered = false;
  let bytesIn = 0;
  let bytesOut = 0;
  let deadline: { readonly timeoutMs: number; readonly refused: () => void } | null = null;
  let stop: ((reason: Error) => void) | null = null;
  let settle!: (response: Response) => void;
  const response = new Promise<Response>((resolve) => (settle = resolve));

  const close = (): void => {
    if (closed) return;
    closed = true;
    for (const then of closers.splice(0)) then();
  };
  request.signal.addEventListener('abort', () => (stop ? stop(new Error('The client left')) : close()), { once: true });

  /** Hands `answer` to the runtime, its body read through a stream that says when the exchange is over. */
  const deliver = (answer: Response): void => {
    if (answered) {
      void answer.body?.cancel();
      return;
    }
    answered = true;
    const headers = new Headers(answer.headers);
    for (const [name, value] of Object.entries(extraHeaders)) if (!headers.has(name)) headers.set(name, value);
    const source = answer.body;
    if (source === null || closed) {
      void source?.cancel();
      settle(new Response(closed ? null : source, { status: answer.status, headers }));
      close();
      return;
    }
    const reader = source.getReader();
    let timer: ReturnType<typeof setTimeout> | null = null;
    if (deadline) {
      const { timeoutMs, refused } = deadline;
      timer = setTimeout(() => {
        refused();
        stop?.(new Error(`The client did not take its answer within ${timeoutMs} ms`));
      }, timeoutMs);
      closers.push(() => clearTimeout(timer ?? undefined));
    }
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        stop = (reason) => {
          if (closed) return;
          controller.error(reason);
          void reader.cancel(reason).catch(() => undefined);
          close();
        };
      },
      async pull(controller) {
        try {
          const next = await reader.read();
          if (next.done) {
            controller.close();
            close();
          } else {
            bytesOut += next.value.byteLength;
            controller.enqueue(next.value);
          }
        } catch (cause) {
          stop?.(cause instanceof Error ? cause : new Error(String(cause)));
        }
      },
      cancel(reason) {
        close();
        return reader.cancel(reason);
      },
      // Read from the source only when the runtime reads (no chunk ahead): the end is seen once the client took the rest.
    }, { highWaterMark: 0 });
    settle(new Response(body, { status: answer.status, headers }));
  };

  const exchange: HttpExchange = {
    head: headOfRequest(request),
    request,
    url: target.url,
    address: target.address,
    addHeaders(headers) {
      Object.assign(extraHeaders, headers);
    },
    answer(answer: HttpAnswer) {
      if (answered) {
        stop?.(new Error('The answer was ended'));
        return;
      }
      deliver(new Response(answer.body ?? null, { status: answer.status, headers: answer.headers }));
    },
    async runAdapter(run: AdapterRun) {
      const { router, endpoint, maxPayloadBytes, onError } = settings;
      let req = request;
      let refusal = 'refusal' in run ? run.refusal : null;
      if (refusal === null && request.body !== null) {
        // tRPC's fetch adapter reads the body whole, unbounded: it gets it read here, within maxPayloadBytes.
        const text = await readBody(request, maxPayloadBytes);
        if (text !== null) bytesIn += Buffer.byteLength(text);
        if (text === null) refusal = new TRPCError({ code: 'PAYLOAD_TOO_LARGE', message: `The request body is over ${maxPayloadBytes} bytes (maxPayloadBytes); send less` });
        else req = new Request(request.url, { method: request.method, headers: request.headers, body: text, signal: request.signal });
      }
      const answer = await fetchRequestHandler({
        endpoint,
        req,
        router,
        createContext: () => {
          if (refusal) throw refusal;
          return 'ctx' in run ? run.ctx : undefined;
        },
        onError: ({ error, type, path }) => onError(error, type, path),
      });
      deliver(answer);
    },
    readBody: async (maxBytes) => {
      const text = await readBody(request, maxBytes);
      if (text !== null) bytesIn += Buffer.byteLength(text);
      return text;
    },
    onClose(then) {
      if (closed) then();
      else closers.push(then);
    },
    destroy() {
      if (stop) stop(new Error('The stream was ended'));
      else close();
    },
    dropUnlessTaken(timeoutMs, refused) {
      deadline = { timeoutMs, refused };
    },
    boundWrites() {
      // Nothing to count: see above (event streams are pulled).
    },
    // The bodies as they pass through here (the runtime's own framing and headers are not seen).
    transferred: () => ({ bytesIn, bytesOut }),
  };
  return { exchange, response };
}

/** `request`'s body as text, or null once it is over `maxBytes` (the rest is cancelled, not read). */
async function readBody(request: Request, maxBytes: number): Promise<string | null> {
  if (request.body === null) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const next = await reader.read();
    if (next.done) break;
    length += next.value.byteLength;
    if (length > maxBytes) {
      await reader.cancel();
      return null;
    }
    chunks.push(next.value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
