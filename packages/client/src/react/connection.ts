import { useCallback, useSyncExternalStore } from 'react';
import type { ConnectionState } from '@herald/shared';
import type { ConnectionStateSource } from '../connection/connectionState.js';

/** The live state of a Herald client's connection (`client.connection`); re-renders on every change. */
export function useConnectionStateOf(connection: ConnectionStateSource): ConnectionState {
  const subscribe = useCallback((onChange: () => void) => connection.subscribe(() => onChange()), [connection]);
  const read = () => connection.current;
  return useSyncExternalStore(subscribe, read, read);
}
