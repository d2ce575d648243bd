import type { IncomingMessage } from 'node:http';
import { HeraldError, RefusalReason } from '../errors.js';
import type { ConnectionParams } from '../transport/admission.js';
import type { Admitted, Refusal } from '../transport/gate.js';
import { paramsOf } from './frames.js';
import type { BinaryWire } from './binaryWire.js';
import type { DoorConfig, HostedCall } from './host.js';
import type { Wire } from './wire.js';

/** What an in-band refresh needs of its connection. */
export interface RefreshHost {
  readonly config: DoorConfig;
  readonly address: string;
  readonly userKey: string | null;
  /** The id `createContext` was given (`connectionId`), which a refresh keeps. */
  readonly appConnectionId: string;
  /** When the credentials stop being trusted (ms), or 0 when they do not expire. */
  readonly trustedUntil: number;
  /** Whether the connection is admitted and not closing. */
  readonly isOpen: boolean;
  /** The upgrade request, kept while the credentials expire (a refresh runs `authenticate` again with it); null otherwise. */
  readonly upgradeRequest: IncomingMessage | null;
  /** Its calls, channel subscriptions among them. */
  hostedCalls(): Iterable<HostedCall>;
  /** Its frame builder, by its encoding. */
  readonly frames: Wire | BinaryWire;
  send(frame: string | Uint8Array): void;
  /** Takes refreshed credentials: their context, and their expiry. */
  renew(refreshed: Admitted): void;
}

/** A channel subscription or live query, which checks its authorization again with a refreshed context. */
interface Reauthorizable extends HostedCall {
  reauthorize?(ctx: unknown): Promise<void>;
}

/**
 * An in-band refresh: fresh `connectionParams` on the open socket run
 * `authenticate` and `createContext` again (the gate's `refresh`): same
 * socket, same subscriptions, new expiry. Each open channel subscription is
 * authorized again with the new context, and each live query run with it;
 * one that no longer is allowed ends with its refusal while the others go on. A refused refresh changes nothing: the
 * client hears why (a session notice), and the connection ends at its old expiry.
 */
export async function reauthenticate(host: RefreshHost, message: { data?: unknown }): Promise<void> {
  const { gate } = host.config;
  const req = host.upgradeRequest;
  if (!host.isOpen) return;
  if (!req) {
    const error = new HeraldError('UNAUTHORIZED', "This connection's credentials do not expire; there is nothing to refresh");
    return refuseRefresh(host, gate.refuse(RefusalReason.REFRESH_REFUSED, error));
  }
  let params: ConnectionParams | null;
  try {
    params = paramsOf(message);
  } catch (cause) {
    const error = new HeraldError('UNAUTHORIZED', `Malformed connectionParams: ${cause instanceof Error ? cause.message : String(cause)}`);
    return refuseRefresh(host, gate.refuse(RefusalReason.REFRESH_REFUSED, error));
  }
  const refreshed = await gate.refresh(params, req, host.address, host.userKey, host.appConnectionId);
  if (!('ok' in refreshed)) return refuseRefresh(host, refreshed);
  if (!host.isOpen) return;
  const checks: Promise<void>[] = [];
  for (const call of host.hostedCalls() as Iterable<Reauthorizable>) {
    if (call.reauthorize) checks.push(call.reauthorize(refreshed.ctx));
  }
  await Promise.all(checks);
  host.renew(refreshed);
}

/** Tells the client why its refresh was refused, and how long its old credentials still hold. */
function refuseRefresh(host: RefreshHost, refusal: Refusal): void {
  const { error } = refusal;
  const { gate } = host.config;
  const expiresAt = host.trustedUntil === 0 ? null : host.trustedUntil - gate.expiryGraceMs;
  const refused = error instanceof HeraldError ? error : new HeraldError('UNAUTHORIZED', error.message, { cause: error });
  host.send(host.frames.session(expiresAt === null ? null : expiresAt - Date.now(), refused));
}
