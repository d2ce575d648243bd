import { CloseCode } from '@herald/shared';
import { RefusalReason, UpgradeRefusal } from '../errors.js';

/**
 * How the WebSocket door answers each refusal of the request gate
 * (transport/gate.ts): before a socket exists, with an HTTP status
 * (`UPGRADE_ANSWER`); on an open socket that must end, with a close code
 * (`CLOSE_OF`), after an error frame that carries the gate's message. A
 * refusal of one request (rate, batch, subscriptions) is only an error
 * frame: the connection stays up.
 */
export const UPGRADE_ANSWER: Partial<Record<RefusalReason, UpgradeRefusal>> = {
  [RefusalReason.DRAINING]: UpgradeRefusal.SERVER_CLOSING,
  [RefusalReason.ORIGIN]: UpgradeRefusal.FORBIDDEN_ORIGIN,
  [RefusalReason.AUTH_FAILURES]: UpgradeRefusal.AUTH_FAILURES,
  [RefusalReason.MAX_CONNECTIONS]: UpgradeRefusal.MAX_CONNECTIONS,
  [RefusalReason.MAX_CONNECTIONS_PER_IP]: UpgradeRefusal.MAX_CONNECTIONS_PER_IP,
};

/** The close code and reason of each refusal that ends an open socket. */
export const CLOSE_OF: Partial<Record<RefusalReason, { readonly code: CloseCode; readonly reason: string }>> = {
  [RefusalReason.UNAUTHORIZED]: { code: CloseCode.UNAUTHORIZED, reason: 'unauthorized' },
  [RefusalReason.CONNECTION_PARAMS_TIMEOUT]: { code: CloseCode.UNAUTHORIZED, reason: 'connectionParams timeout' },
  [RefusalReason.MAX_CONNECTIONS_PER_USER]: { code: CloseCode.LIMIT_EXCEEDED, reason: 'too many connections for this user' },
  [RefusalReason.TOKEN_EXPIRED]: { code: CloseCode.TOKEN_EXPIRED, reason: 'credentials expired' },
  [RefusalReason.REVOKED]: { code: CloseCode.REVOKED, reason: 'sessions revoked' },
};
