import { platformEventSource } from '#platform';
import type { EventSourceClass } from '../platform/types.js';
import { HttpSession } from '../sessions/httpSession.js';
import type { HttpConfig, HttpConnectionParts } from './httpTransport.js';
import { TransportChooser } from './transportChooser.js';
import { UpgradeProbe, type ProbeHost } from './upgradeProbe.js';
import { UrlRotation } from './urlRotation.js';

/**
 * What one connection on `http` or `auto` has besides WebSockets, from the
 * client's resolved HTTP settings: the transport chooser, the upgrade probe
 * (`auto`), the HTTP endpoints, the EventSource class, and the dialing of
 * HTTP sessions. `@herald/client/http` hands this to the client (http.ts),
 * so a WebSocket-only client bundles none of it.
 */
export function httpConnectionParts(config: HttpConfig, host: ProbeHost): HttpConnectionParts {
  const chooser = new TransportChooser(config.mode, config.afterFailures);
  let loading: Promise<EventSourceClass> | null = null;
  return {
    chooser,
    probe: config.mode === 'auto' ? new UpgradeProbe(host, chooser, config.upgradeProbeIntervalMs) : null,
    urls: new UrlRotation(config.urls),
    eventSource() {
      if (config.EventSource) return Promise.resolve(config.EventSource);
      const current = (loading ??= platformEventSource());
      current.catch(() => {
        if (loading === current) loading = null;
      });
      return current;
    },
    dial: (url, common, EventSource, handlers) =>
      new HttpSession(url, { ...common, connectionParamsSource: config.connectionParams, EventSource, fetch: config.fetch }, handlers),
  };
}
