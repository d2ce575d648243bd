import { forwardedAddress } from '../transport/clientAddress.js';
import { headOfRequest } from '../transport/requestHead.js';

/**
 * Herald's HTTP door as a fetch-API handler: calls, batches and event
 * streams under `httpPath`, through the same request gate and call runner as
 * the Node doors. Hand it the `Request`; `clientAddress` is the client's
 * address when the runtime gives it beside the request (Bun's
 * `server.requestIP(request)?.address`, Deno's `info.remoteAddr.hostname`,
 * Hono's `getConnInfo(c).remote.address`). Resolves with the `Response`, 404
 * for a path outside `httpPath`.
 */
export type HeraldFetchHandler = (request: Request, clientAddress?: string) => Promise<Response>;

/** How the fetch handler tells who is calling from where (`HeraldHandler.fetchHandler`). */
export interface FetchHandlerOptions {
  /**
   * The client's address of a request, when the handler is not given it as
   * its second argument: what the per-address limits (`maxConnectionsPerIp`,
   * `maxHttpCallsPerIp`, failed authentications, the anonymous request
   * budget) count by. With `trustProxy`, the first `X-Forwarded-For` entry
   * comes first, as on the Node doors. A request whose address none of these
   * gives is refused (500) rather than counted with every other client's.
   * @default none: the address comes from the second argument or `X-Forwarded-For` with `trustProxy`
   */
  getClientAddress?: (request: Request) => string | undefined;
}

/**
 * What the fetch handler serves through: the HTTP door's `fetch`
 * (trpcHttp.ts), named by shape so the public declarations stop here.
 */
interface FetchDoor {
  fetch(request: Request, address: string): Promise<Response> | null;
}

/** The fetch handler over the HTTP door `trpcHttp` (null when `httpPath` is off: every request gets 404). */
export function createFetchHandler(trpcHttp: FetchDoor | null, trustProxy: boolean, httpPath: string | null, options: FetchHandlerOptions): HeraldFetchHandler {
  return async (request, clientAddress) => {
    const address = forwardedAddress(headOfRequest(request), trustProxy) ?? clientAddress ?? options.getClientAddress?.(request);
    const served = address === undefined ? null : trpcHttp?.fetch(request, address);
    if (served) return served;
    const [status, message] =
      address === undefined
        ? [500, "Herald's fetch handler cannot tell the client's address: pass it as the handler's second argument, or give fetchHandler a getClientAddress (trustProxy behind a proxy)"]
        : [404, httpPath === null ? "Herald's HTTP door is off (httpPath: false); turn it on to serve calls over fetch" : `Herald's fetch handler serves calls under ${httpPath}; route only those to it`];
    return Response.json({ error: { message } }, { status, headers: { 'cache-control': 'no-store' } });
  };
}
