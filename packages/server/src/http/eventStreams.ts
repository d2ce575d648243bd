import type { IncomingMessage, ServerResponse } from 'node:http';
import { getTRPCErrorFromUnknown, type AnyRouter, type TRPCError } from '@trpc/server';
import { CONNECTION_PARAMS_HEADER, STREAM_TICKET_PARAM } from '@herald/shared/internal';
import type { ServerConfig } from '../config.js';
import { HeraldError, RefusalReason } from '../errors.js';
import type { ConnectionParams } from '../transport/admission.js';
import { notAdmittedError, type RequestGate } from '../transport/gate.js';
import { StreamTickets } from '../transport/streamTickets.js';
import type { AnswerMeter } from './answerMeter.js';
import { writeError, type HttpShapes } from './answers.js';
import { connectionParamsOf, queryConnectionParams } from './connectionParams.js';
import { boundWrites, onClose } from './slowClients.js';

/** The most connection params (as JSON) a stream ticket stands for: what one issued ticket may keep in the store. */
export const MAX_TICKET_PARAMS_BYTES = 4_096;

/**
 * Runs tRPC's node-http adapter for a request with a context known already
 * (and the meter its answer is counted by, if it is), or answers it with
 * `refusal` instead.
 */
export type RunAdapter = (
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  answer: { readonly ctx: unknown; readonly meter?: AnswerMeter } | { readonly refusal: TRPCError },
) => Promise<void>;

/**
 * Event streams (Server-Sent Events subscriptions) and the tickets that
 * stand in for their credentials. A stream is a connection to the request
 * gate: it holds a slot of its address from the start and of its user once
 * authenticated, against the same caps as WebSockets; it ends when its
 * credentials expire (the client's EventSource reconnects with fresh ones
 * and `Last-Event-ID`) and when its user is revoked.
 */
export class EventStreams {
  /** Open SSE responses by user key, for `disconnectUser`. */
  private readonly byUser = new Map<string, Set<ServerResponse>>();
  private open = 0;
  // In the broker's store when there is one, so a ticket issued here is redeemed on any node.
  private readonly tickets: StreamTickets;

  constructor(
    private readonly config: ServerConfig,
    private readonly gate: RequestGate,
    private readonly shapes: HttpShapes,
    private readonly runAdapter: RunAdapter,
  ) {
    this.tickets = new StreamTickets(config.idempotency.store);
  }

  /** Event streams open now. */
  get count(): number {
    return this.open;
  }

  /** Ends the streams of the user `userKey`. */
  disconnectUser(userKey: string, reason: string): void {
    for (const res of this.byUser.get(userKey) ?? []) {
      this.gate.refuse(RefusalReason.REVOKED, new HeraldError('UNAUTHORIZED', reason));
      res.destroy();
    }
  }

  /** Serves an event stream: its credentials, its slots, its budget, then tRPC's adapter. */
  async serve(req: IncomingMessage, res: ServerResponse, path: string, url: URL, address: string): Promise<void> {
    const { gate } = this;
    let params: ConnectionParams | null;
    try {
      params = await this.paramsOf(req, url, address);
    } catch (cause) {
      // Refused with its HTTP status (401), not as an error event in a 200 stream: an
      // EventSource then gives up on the URL, and Herald's client reconnects with a new ticket.
      writeError(this.shapes, res, getTRPCErrorFromUnknown(cause), path);
      return;
    }
    const slot = gate.openConnection(address);
    if (slot) return this.runAdapter(req, res, path, { refusal: slot.error });
    this.open++;
    onClose(res, () => {
      this.open--;
      gate.closeConnection(address);
    });
    const admitted = await gate.admit(params, req, address, true);
    // Refused credentials end the subscription with their error (an error event in the stream), so the client
    // does not retry them; a refused ticket (above) is an HTTP 401, after which the client gets a new ticket.
    if (!admitted.ok) return this.runAdapter(req, res, path, { refusal: notAdmittedError(admitted) });
    onClose(res, () => gate.release(admitted));
    const budget = gate.takeRequests({ userKey: admitted.userKey, address });
    if (budget) return this.runAdapter(req, res, path, { refusal: budget.error });
    if (admitted.trustedUntil !== 0) endAt(res, admitted.trustedUntil);
    const { maxBufferedBytes } = this.config.limits;
    boundWrites(res, maxBufferedBytes, () =>
      gate.refuse(
        RefusalReason.SLOW_HTTP_CLIENT,
        new HeraldError('LIMIT_EXCEEDED', `The event stream's client fell ${maxBufferedBytes} bytes behind (maxBufferedBytes); it was dropped`),
        { address },
      ),
    );
    if (admitted.userKey !== null) this.track(admitted.userKey, res);
    await this.runAdapter(req, res, path, { ctx: admitted.ctx });
  }

  /**
   * `POST <httpPath>/_herald/ticket`: the credentials in the request's
   * headers, authenticated (a refusal counts against the address), for a
   * single-use ticket an event stream's URL can carry instead of them.
   */
  async serveTicket(req: IncomingMessage, res: ServerResponse, path: string, address: string): Promise<void> {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST', 'cache-control': 'no-store' }).end();
      return;
    }
    let params: ConnectionParams | null;
    try {
      params = connectionParamsOf(req, null);
      if (!params) {
        throw new HeraldError('UNAUTHORIZED', `A stream ticket stands for credentials: send them in the ${CONNECTION_PARAMS_HEADER} header`);
      }
      const size = JSON.stringify(params).length;
      if (size > MAX_TICKET_PARAMS_BYTES) {
        throw new HeraldError('LIMIT_EXCEEDED', `Connection params of ${size} bytes are over the ${MAX_TICKET_PARAMS_BYTES} a stream ticket holds; send smaller ones`);
      }
      const identity = await this.gate.authenticate(params, req, address);
      // A ticket is a request (it is stored until redeemed or expired): it spends the caller's budget.
      const budget = this.gate.takeRequests({ userKey: this.gate.userKeyOf(identity.user), address });
      if (budget) throw budget.error;
    } catch (cause) {
      writeError(this.shapes, res, getTRPCErrorFromUnknown(cause), path);
      return;
    }
    const issued = await this.tickets.issue(params);
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(issued));
  }

  /**
   * An event stream's credentials: the ones its ticket stands for (redeemed
   * here, once; a refused ticket counts as a failed authentication of the
   * address), else the request's own (`connectionParamsOf`).
   */
  private async paramsOf(req: IncomingMessage, url: URL, address: string): Promise<ConnectionParams | null> {
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

  private track(userKey: string, res: ServerResponse): void {
    let streams = this.byUser.get(userKey);
    if (!streams) this.byUser.set(userKey, (streams = new Set()));
    streams.add(res);
    onClose(res, () => {
      streams.delete(res);
      if (streams.size === 0 && this.byUser.get(userKey) === streams) this.byUser.delete(userKey);
    });
  }
}

/**
 * Ends an SSE response when its credentials are no longer trusted: the
 * client's EventSource reconnects with fresh credentials and
 * `Last-Event-ID`, so the stream resumes where it stopped. The timer goes
 * with the response.
 */
function endAt(res: ServerResponse, at: number): void {
  const timer = setTimeout(() => res.destroy(), Math.max(0, at - Date.now()));
  timer.unref();
  onClose(res, () => clearTimeout(timer));
}

/**
 * A request tRPC will answer with an event stream: a GET of a subscription
 * (EventSource also asks for `text/event-stream`, which covers procedures of
 * lazy routers not loaded yet; tRPC's other links never do).
 */
export function isEventStreamRequest(router: AnyRouter, req: IncomingMessage, path: string): boolean {
  if (req.method !== 'GET') return false;
  const procedure = (router._def.procedures as Record<string, { _def?: { type?: string } } | undefined>)[path];
  return procedure?._def?.type === 'subscription' || (req.headers.accept ?? '').includes('text/event-stream');
}
