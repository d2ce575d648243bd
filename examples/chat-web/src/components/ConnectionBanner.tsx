import { useEffect, useState, useSyncExternalStore } from 'react';
import { useConnectionState, useHeraldClient } from '../herald.js';
import { bannerFor } from '../lib/banner.js';

function subscribeOnline(onChange: () => void): () => void {
  window.addEventListener('online', onChange);
  window.addEventListener('offline', onChange);
  return () => {
    window.removeEventListener('online', onChange);
    window.removeEventListener('offline', onChange);
  };
}

/** The browser's own idea of the network (false: no network at all). */
export function useBrowserOnline(): boolean {
  return useSyncExternalStore(subscribeOnline, () => navigator.onLine, () => true);
}

/** True for a moment after the link came back from `reconnecting`, to say so. */
function useJustRestored(): boolean {
  const { connection } = useHeraldClient();
  const [restored, setRestored] = useState(false);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = connection.subscribe((next, previous) => {
      clearTimeout(timer);
      const back = next.status === 'open' && previous.status === 'reconnecting';
      setRestored(back);
      if (back) timer = setTimeout(() => setRestored(false), 2_500);
    });
    return () => {
      stop();
      clearTimeout(timer);
    };
  }, [connection]);
  return restored;
}

/** A live region at the top of the page: connecting, reconnecting, offline, and a short "connected again". */
export function ConnectionBanner() {
  const state = useConnectionState();
  const browserOnline = useBrowserOnline();
  const banner = bannerFor(state, browserOnline, useJustRestored());
  return (
    <div
      className={`banner${banner ? ` banner--${banner.kind}` : ''}`}
      role="status"
      aria-live="polite"
      data-connection={state.status}
      data-transport={state.status === 'open' ? state.transport : undefined}
    >
      {banner && (
        <p className="banner__text">
          {banner.kind !== 'restored' && <span className="banner__spinner" aria-hidden="true" />}
          {banner.text}
        </p>
      )}
    </div>
  );
}
