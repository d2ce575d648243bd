import { platformEventSource } from '#platform';
import { HttpSession } from './httpSession.js';
import type { HttpConnectionParts } from './httpTransport.js';
import { httpUrlOf } from './httpUrl.js';
import { clientDefaults, type EventSourceClass, type HeraldClientOptions } from './options.js';
import { TransportChooser } from './transportChooser.js';
import { UpgradeProbe, type ProbeHost } from './upgradeProbe.js';
import { UrlRotation } from './urlRotation.js';

/**
 * What one connection on `http` or `auto` has besides WebSockets, from the
 * client's options: the transport chooser, the upgrade probe (`auto`), the
 * HTTP endpoints, the EventSource class, and the dialing of HTTP sessions.
 */
export function httpConnectionParts(options: HeraldClientOptions, urls: readonly string[], host: ProbeHost): HttpConnectionParts {
  const fallback = { ...clientDefaults.httpFallback, ...options.httpFallback };
  const transport = options.transport ?? 'auto';
  const chooser = new TransportChooser(transport, Math.max(1, fallback.afterFailures));
  const httpUrls = options.httpUrl === undefined ? urls.map(httpUrlOf) : typeof options.httpUrl === 'string' ? [options.httpUrl] : options.httpUrl;
  let loading: Promise<EventSourceClass> | null = null;
  return {
    chooser,
    probe: transport === 'auto' ? new UpgradeProbe(host, chooser, fallback.upgradeProbeIntervalMs) : null,
    urls: new UrlRotation(httpUrls),
    eventSource() {
      if (options.EventSource) return Promise.resolve(options.EventSource);
      const current = (loading ??= platformEventSource());
      current.catch(() => {
        if (loading === current) loading = null;
      });
      return current;
    },
    dial: (url, common, EventSource, handlers) =>
      new HttpSession(url, { ...common, connectionParamsSource: options.connectionParams, EventSource, fetch: options.fetch }, handlers),
  };
}
