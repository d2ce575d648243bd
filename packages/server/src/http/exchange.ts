import type { TRPCError } from '@trpc/server';
import type { HeraldRequest, RequestHead } from '../transport/requestHead.js';

/** An answer Herald writes itself (not through tRPC's adapter): status, headers, and a body when there is one. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** What tRPC's adapter runs a request with: the context the gate admitted, or the refusal it answers with instead. */
export type AdapterRun = { readonly ctx: unknown } | { readonly refusal: TRPCError };

/**
 * One HTTP request and its answer, as a door hands it to the HTTP call
 * path (trpcHttp.ts): the seam between what the call path decides and how
 * a runtime carries it. `nodeExchange.ts` is Node's (`IncomingMessage` and
 * `ServerResponse`, tRPC's node-http adapter), `fetchExchange.ts` the fetch
 * API's (`Request` in, `Response` out, tRPC's fetch adapter).
 */
export interface HttpExchange {
  /** The method and headers the gate and the door read. */
  readonly head: RequestHead;
  /** The request the app's `authenticate` and `createContext` get. */
  readonly request: HeraldRequest;
  readonly url: URL;
  /** The client's address, as the door knows it. */
  readonly address: string;
  /** Adds headers to whatever answer follows (CORS). */
  addHeaders(headers: Readonly<Record<string, string>>): void;
  /** Answers with `answer`; once an answer has begun, ends it instead. */
  answer(answer: HttpAnswer): void;
  /** Answers through tRPC's adapter (a call, a batch, an event stream), with a context or a refusal in tRPC's shape. */
  runAdapter(run: AdapterRun): Promise<void>;
  /** The body as text, or null once it is over `maxBytes` (the rest is not read). */
  readBody(maxBytes: number): Promise<string | null>;
  /** Runs `then` once the exchange is over (answered in full, ended, or the client left), or at once when it is. */
  onClose(then: () => void): void;
  /** Ends the exchange now, whatever is left of its answer (an event stream's client then reconnects). */
  destroy(): void;
  /**
   * Ends the exchange unless its client takes the answer in full within
   * `timeoutMs` of its start, and tells `refused`; called before the answer begins.
   */
  dropUnlessTaken(timeoutMs: number, refused: () => void): void;
  /** Ends an event stream whose client falls more than `maxBufferedBytes` behind, and tells `refused`. */
  boundWrites(maxBufferedBytes: number, refused: () => void): void;
  /** The bytes taken from the client and handed to it so far (the admin page's lookup). */
  transferred(): Transferred;
}

/** `HttpExchange.transferred`: bytes in and out of one exchange. */
export interface Transferred {
  readonly bytesIn: number;
  readonly bytesOut: number;
}
