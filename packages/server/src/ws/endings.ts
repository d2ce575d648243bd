import { CloseCode } from '@herald/shared';
import type { Logger } from 'pino';

/** Who a connection was, for its close line. */
export interface ClosedConnection {
  readonly connectionId: string;
  readonly ip: string;
  readonly openedAt: number;
}

/**
 * The log line of a closed connection, at `info`: its real code and reason,
 * and who closed it (the server, when `endedBy` says why it did, `ws`'s own
 * protocol closes included; else the client, or the network: 1006).
 */
export function logClose(
  logger: Logger,
  connection: ClosedConnection,
  code: number,
  reasonBytes: Buffer,
  endedBy: { readonly code: number; readonly reason: string } | null,
): void {
  if (!logger.isLevelEnabled('info')) return;
  const peerReason = reasonBytes.toString('utf8');
  logger.info(
    {
      event: 'connection.close',
      connectionId: connection.connectionId,
      ip: connection.ip,
      code: endedBy?.code ?? code,
      reason: endedBy?.reason ?? (peerReason || (code === CloseCode.ABNORMAL_CLOSURE ? 'connection lost' : 'closed by client')),
      closedBy: endedBy ? 'server' : 'client',
      durationMs: Date.now() - connection.openedAt,
    },
    'connection closed',
  );
}

/** The close code `ws` attached to a protocol error it closes the socket for (1002, 1007, 1009...), else null. */
export function wsCloseCodeOf(error: Error): number | null {
  const key = Object.getOwnPropertySymbols(error).find((symbol) => symbol.description === 'status-code');
  const value = key === undefined ? undefined : (error as unknown as Record<symbol, unknown>)[key];
  return typeof value === 'number' ? value : null;
}
