import { getTRPCErrorFromUnknown, type AnyRouter } from '@trpc/server';
import { CONNECTION_PARAMS_HEADER, STREAM_TICKET_PARAM } from '@herald/shared/internal';
import { streamTopics } from '../channels/streamTopics.js';
import type { ServerConfig } from '../config.js';
import { HeraldError, RefusalReason } from '../errors.js';
import type { ConnectionParams } from '../transport/admission.js';
import { newConnectionId, notAdmittedError, type RequestGate } from '../transport/gate.js';
import type { RequestHead } from '../transport/requestHead.js';
import { StreamTickets } from '../transport/streamTickets.js';
import { errorAnswer, type HttpShapes } from './answers.js';
import { connectionParamsOf, queryConnectionParams } from './connectionParams.js';
import type { HttpExchange } from './exchange.js';
import type { ConnectionSummary, LookupFields } from '../ws/summary.js';

/** The most connection params (as JSON) a stream ticket stands for: what one issued ticket may keep in the store. */
export const MAX_TICKET_PARAMS_BYTES = 4_096;

/** An admitted event stream, as the admin page's lookup lists it. */
interface OpenStream {
  readonly connectionId: string;
  readonly userKey: string | null;
  readonly ctx: unknown;
  readonly address: string;
  readonly connectedAt: number;
  readonly path: string;
  /** The channel topics its subscription iterates (`streamTopics`). */
  readonly topics: Set<string>;
  readonly exchange: HttpExchange;
}

/**
 * Event streams (Server-Sent Events subscriptions) and the tickets that
 * stand in for their credentials. A stream is a connection to the request
 * gate: it holds a slot of its address from the start and of its user once
 * authenticated, against the same caps as WebSockets; it ends when its
 * credentials expire (the client's EventSource reconnects with fresh ones
 * and `Last-Event-ID`) and when its user is revoked.
 */
export class EventStreams {
  /** Open event streams by user key, for `disconnectUser`. */
  private readonly byUser = new Map<string, Set<HttpExchange>>();
  /** Admitted streams, for the admin page's lookup. */
  private readonly admitted = new Set<OpenStream>();
  private numbered = 0;
  private open = 0;
  // In the broker's store when there is one, so a ticket issued here is redeemed on any node.
  private readonly tickets: StreamTickets;

  constructor(
    private readonly config: ServerConfig,
    private readonly gate: RequestGate,
    private readonly shapes: HttpShapes,
  ) {
    this.tickets = new StreamTickets(config.idempotency.store);
  }

  /** Event streams open now. */
  get count(): number {
    return this.open;
  }

  /** Ends the streams of the user `userKey`. */
  disconnectUser(userKey: string, reason: string): void {
    for (const stream of this.byUser.get(userKey) ?? []) {
      this.gate.refuse(RefusalReason.REVOKED, new HeraldError('UNAUTHORIZED', reason), { userKey, transport: 'http-stream' });
      stream.destroy();
    }
  }

  /** The admitted streams `matches` accepts, at most `limit` (the admin page's lookup); `displayNameOf` names their users. */
  describeStreams(matches: (fields: LookupFields) => boolean, limit: number, displayNameOf: (ctx: unknown) => string | null): ConnectionSummary[] {
    const found: ConnectionSummary[] = [];
    for (const stream of this.admitted) {
      if (found.length >= limit) break;
      const displayName = stream.userKey === null ? null : displayNameOf(stream.ctx);
      if (!matches({ connectionId: stream.connectionId, userKey: stream.userKey, displayName, topics: () => [...stream.topics] })) continue;
      const { bytesIn, bytesOut } = stream.exchange.transferred();
      found.push({
        connectionId: stream.connectionId,
        transport: 'http-stream',
        userKey: stream.userKey,
        displayName,
        address: stream.address,
        connectedAt: stream.connectedAt,
        subscriptions: [stream.path],
        topics: [...stream.topics],
        bytesIn,
        bytesOut,
      });
    }
    return found;
  }

  /** Serves an event stream: its credentials, its slots, its budget, then tRPC's adapter. */
  async serve(exchange: HttpExchange, path: string): Promise<void> {
    const { gate } = this;
    const { address } = exchange;
    let params: ConnectionParams | null;
    try {
      params = await this.paramsOf(exchange.head, exchange.url, address);
    } catch (cause) {
      // Refused with its HTTP status (401), not as an error event in a 200 stream: an
      // EventSource then gives up on the URL, and Herald's client reconnects with a new ticket.
      exchange.answer(errorAnswer(this.shapes, getTRPCErrorFromUnknown(cause), path));
      return;
    }
    const slot = gate.openConnection(address);
    if (slot) return exchange.runAdapter({ refusal: slot.error });
    this.open++;
    exchange.onClose(() => {
      this.open--;
      gate.closeConnection(address);
    });
    const admitted = await gate.admit(params, exchange.request, address, true, newConnectionId());
    // Refused credentials end the subscription with their error (an error event in the stream), so the client
    // does not retry them; a refused ticket (above) is an HTTP 401, after which the client gets a new ticket.
    if (!admitted.ok) return exchange.runAdapter({ refusal: notAdmittedError(admitted) });
    exchange.onClose(() => gate.release(admitted));
    const budget = gate.takeRequests({ userKey: admitted.userKey, address });
    if (budget) return exchange.runAdapter({ refusal: budget.error });
    if (admitted.trustedUntil !== 0) endAt(exchange, admitted.trustedUntil);
    const { maxBufferedBytes } = this.config.limits;
    exchange.boundWrites(maxBufferedBytes, () =>
      gate.refuse(
        RefusalReason.SLOW_HTTP_CLIENT,
        new HeraldError('LIMIT_EXCEEDED', `The event stream's client fell ${maxBufferedBytes} bytes behind (maxBufferedBytes); it was dropped`),
        { address, userKey: admitted.userKey, transport: 'http-stream' },
      ),
    );
    if (admitted.userKey !== null) this.track(admitted.userKey, exchange);
    const stream: OpenStream = { connectionId: `h${++this.numbered}`, userKey: admitted.userKey, ctx: admitted.ctx, address, connectedAt: Date.now(), path, topics: new Set(), exchange };
    this.admitted.add(stream);
    exchange.onClose(() => this.admitted.delete(stream));
    gate.connected({ connectionId: stream.connectionId, userKey: stream.userKey, address, transport: 'http-stream' });
    await streamTopics.run(stream.topics, () => exchange.runAdapter({ ctx: admitted.ctx }));
  }

  /**
   * `POST <httpPath>/_herald/ticket`: the credentials in the request's
   * headers, authenticated (a refusal counts against the address), for a
   * single-use ticket an event stream's URL can carry instead of them.
   */
  async serveTicket(exchange: HttpExchange, path: string): Promise<void> {
    const { head, address } = exchange;
    if (head.method !== 'POST') {
      exchange.answer({ status: 405, headers: { allow: 'POST', 'cache-control': 'no-store' } });
      return;
    }
    let params: ConnectionParams | null;
    try {
      params = connectionParamsOf(head, null);
      if (!params) {
        throw new HeraldError('UNAUTHORIZED', `A stream ticket stands for credentials: send them in the ${CONNECTION_PARAMS_HEADER} header`);
      }
      const size = JSON.stringify(params).length;
      if (size > MAX_TICKET_PARAMS_BYTES) {
        throw new HeraldError('LIMIT_EXCEEDED', `Connection params of ${size} bytes are over the ${MAX_TICKET_PARAMS_BYTES} a stream ticket holds; send smaller ones`);
      }
      const identity = await this.gate.authenticate(params, exchange.request, address);
      // A ticket is a request (it is stored until redeemed or expired): it spends the caller's budget.
      const budget = this.gate.takeRequests({ userKey: this.gate.userKeyOf(identity.user), address });
      if (budget) throw budget.error;
    } catch (cause) {
      exchange.answer(errorAnswer(this.shapes, getTRPCErrorFromUnknown(cause), path));
      return;
    }
    const issued = await this.tickets.issue(params);
    exchange.answer({ status: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' }, body: JSON.stringify(issued) });
  }

  /**
   * An event stream's credentials: the ones its ticket stands for (redeemed
   * here, once; a refused ticket counts as a failed authentication of the
   * address), else the request's own (`connectionParamsOf`).
   */
  private async paramsOf(req: RequestHead, url: URL, address: string): Promise<ConnectionParams | null> {
    const ticket = url.searchParams.get(STREAM_TICKET_PARAM);
    if (ticket === null) return connectionParamsOf(req, queryConnectionParams(url));
    const redeemed = await this.tickets.redeem(ticket);
    if (redeemed.ok) return redeemed.params;
    this.gate.countFailure(address);
    throw this.gate.refuse(
      RefusalReason.STREAM_TICKET,
      new HeraldError(
        'UNAUTHORIZED',
        redeemed.reason === 'used'
          ? 'This stream ticket was used already: get a new ticket for each connection'
          : 'Unknown or expired stream ticket: get a new ticket for each connection',
      ),
    ).error;
  }

  private track(userKey: string, stream: HttpExchange): void {
    let streams = this.byUser.get(userKey);
    if (!streams) this.byUser.set(userKey, (streams = new Set()));
    streams.add(stream);
    stream.onClose(() => {
      streams.delete(stream);
      if (streams.size === 0 && this.byUser.get(userKey) === streams) this.byUser.delete(userKey);
    });
  }
}

/**
 * Ends an SSE response when its credentials are no longer trusted: the
 * client's EventSource reconnects with fresh credentials and
 * `Last-Event-ID`, so the stream resumes where it stopped. The timer goes
 * with the stream.
 */
function endAt(stream: HttpExchange, at: number): void {
  const timer = setTimeout(() => stream.destroy(), Math.max(0, at - Date.now()));
  timer.unref();
  stream.onClose(() => clearTimeout(timer));
}

/**
 * A request tRPC will answer with an event stream: a GET of a subscription
 * (EventSource also asks for `text/event-stream`, which covers procedures of
 * lazy routers not loaded yet; tRPC's other links never do).
 */
export function isEventStreamRequest(router: AnyRouter, req: RequestHead, path: string): boolean {
  if (req.method !== 'GET') return false;
  const procedure = (router._def.procedures as Record<string, { _def?: { type?: string } } | undefined>)[path];
  return procedure?._def?.type === 'subscription' || (req.headers.accept ?? '').includes('text/event-stream');
}
