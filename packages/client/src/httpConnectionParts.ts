import { platformEventSource } from '#platform';
import type { HttpConnectionParts, HttpConnectionSettings } from './httpTransport.js';
import type { EventSourceClass } from './options.js';
import { TransportChooser } from './transportChooser.js';
import { UpgradeProbe, type ProbeHost } from './upgradeProbe.js';

/** The transport chooser, the upgrade probe (`auto`) and the EventSource class of one connection on `http` or `auto`. */
export function httpConnectionParts(settings: HttpConnectionSettings, host: ProbeHost): HttpConnectionParts {
  const chooser = new TransportChooser(settings.transport, settings.fallbackAfterFailures);
  let loading: Promise<EventSourceClass> | null = null;
  return {
    chooser,
    probe: settings.transport === 'auto' ? new UpgradeProbe(host, chooser, settings.upgradeProbeIntervalMs) : null,
    eventSource() {
      if (settings.EventSource) return Promise.resolve(settings.EventSource);
      const current = (loading ??= platformEventSource());
      current.catch(() => {
        if (loading === current) loading = null;
      });
      return current;
    },
  };
}
