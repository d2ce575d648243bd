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

/**
 * The connection, at the top of the page: connecting, reconnecting, offline,
 * and a short "connected again". Its live region holds words that change
 * only when the state does, so a screen reader hears each change once; the
 * attempt count sits beside it, shown but not announced.
 */
export function ConnectionBanner() {
  const state = useConnectionState();
  const browserOnline = useBrowserOnline();
  const banner = bannerFor(state, browserOnline, useJustRestored());
  return (
    <div className={`banner${banner ? ` banner--${banner.kind}` : ''}`}>
      <p className={`banner__text${banner ? '' : ' banner__text--empty'}`}>
        {banner && banner.kind !== 'restored' && <span className="banner__spinner" aria-hidden="true" />}
        <span role="status" aria-live="polite" data-connection={state.status} data-transport={state.status === 'open' ? state.transport : undefined}>
          {banner?.text ?? ''}
        </span>
        {banner?.detail && (
          <span className="banner__detail" aria-hidden="true">
            ({banner.detail})
          </span>
        )}
      </p>
    </div>
  );
}
