import { useEffect, useRef, type Dispatch } from 'react';
import { useMutation } from '@tanstack/react-query';
import { useTRPC } from '../herald.js';
import type { ChatAction } from './chatState.js';
import { describeError, isConnectionError } from './errors.js';
import { nextToSend, type Outbox } from './outbox.js';

/**
 * Sends the outbox, oldest first and one at a time, whenever the connection
 * is open. Written while offline: the entry waits (`queued`) and goes out on
 * reconnect. A send the connection cut off is marked failed, not retried on
 * its own: the server may have stored it, and if so it appears in the room
 * and settles the entry (see `reconcile`).
 */
export function useOutboxSender(outbox: Outbox, online: boolean, dispatch: Dispatch<ChatAction>, onUnauthorized: (message: string) => void): void {
  const trpc = useTRPC();
  const { mutateAsync: send } = useMutation(trpc.chat.send.mutationOptions());
  const inFlight = useRef(new Set<string>());
  const latest = useRef(onUnauthorized);
  useEffect(() => {
    latest.current = onUnauthorized;
  });

  useEffect(() => {
    const next = nextToSend(outbox, online);
    if (!next || inFlight.current.has(next.localId)) return;
    inFlight.current.add(next.localId);
    dispatch({ type: 'sending', localId: next.localId, now: Date.now() });
    send({ room: next.room, text: next.text })
      .then(
        (message) => dispatch({ type: 'sent', localId: next.localId, message }),
        (error: unknown) => {
          const { code, message } = describeError(error);
          if (code === 'UNAUTHORIZED') latest.current(message);
          dispatch({
            type: 'failed',
            localId: next.localId,
            error: isConnectionError(error) ? 'Not sent: the connection dropped.' : `Not sent: ${message}`,
          });
        },
      )
      .finally(() => inFlight.current.delete(next.localId));
  }, [outbox, online, dispatch, send]);
}
