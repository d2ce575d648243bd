import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

/**
 * What the request gate and the HTTP door read of a request: its method and
 * its headers, named in lower case as Node gives them. A Node
 * `IncomingMessage` is one as it is; a fetch `Request` is read into one by
 * `headOfRequest`, so every door's requests meet the same checks.
 */
export interface RequestHead {
  readonly method?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/**
 * The request an app's `authenticate` and `createContext` get: the Node
 * `IncomingMessage` (an upgrade or an HTTP request) on the Node doors, the
 * fetch `Request` on the fetch handler (`HeraldHandler.fetchHandler`).
 */
export type HeraldRequest = IncomingMessage | Request;

/** `request`'s method and headers as a `RequestHead` (repeated headers joined with `, `, as `Headers` gives them). */
export function headOfRequest(request: Request): RequestHead {
  const headers: IncomingHttpHeaders = {};
  request.headers.forEach((value, name) => {
    headers[name] = value;
  });
  return { method: request.method, headers };
}

/** A header of `req`, whichever kind of request it is. */
export function headerOf(req: HeraldRequest, name: string): string | undefined {
  if (isFetchRequest(req)) return req.headers.get(name) ?? undefined;
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Whether `req` is a fetch `Request` (by its `Headers`, so a runtime's own subclass counts too). */
export function isFetchRequest(req: HeraldRequest): req is Request {
  return typeof (req.headers as { get?: unknown }).get === 'function';
}
