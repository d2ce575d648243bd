import type { Session } from '../sessions/session.js';
import { unref } from '../timers.js';
import type { TransportChooser } from './transportChooser.js';

/** What the upgrade probe reads of its connection, and the dial it asks for. */
export interface ProbeHost {
  /** Closed by the app, or stopped by a refusal. */
  stopped(): boolean;
  /** The session in use. */
  current(): Session | null;
  /** A dial is under way, waiting for `connectionParams`, or scheduled. */
  busy(): boolean;
  /** Dials a WebSocket as an upgrade probe: its failure is quiet. */
  dialProbe(): void;
}

/** The first upgrade probe after a fallback that no refusal explained. */
const QUICK_PROBE_MS = 1_000;

/**
 * `transport: 'auto'` on HTTP: dials a WebSocket every `intervalMs` while
 * the HTTP session serves. When the probe opens, the connection moves its
 * calls to it as on a reconnect notice; a probe that fails changes nothing
 * the app can see.
 */
export class UpgradeProbe {
  #timer: ReturnType<typeof setTimeout> | null = null;
  readonly #host: ProbeHost;
  readonly #chooser: TransportChooser;
  readonly #intervalMs: number;

  constructor(host: ProbeHost, chooser: TransportChooser, intervalMs: number) {
    this.#host = host;
    this.#chooser = chooser;
    this.#intervalMs = intervalMs;
  }

  /**
   * A session opened. Upgrades that failed without an answer may have met a
   * server that was down for a moment (a restart) rather than a proxy: the
   * first probe then comes soon.
   */
  opened(): void {
    this.schedule(this.#chooser.upgradeRefused ? undefined : QUICK_PROBE_MS);
  }

  /** Plans the next probe while an HTTP session serves (at most `intervalMs` from now). */
  schedule(delayMs?: number): void {
    this.clear();
    const host = this.#host;
    const current = host.current();
    if (host.stopped() || current?.transport !== 'http' || !current.isReady) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (host.stopped() || host.current() !== current || !current.isReady) return;
      if (host.busy()) {
        this.schedule();
        return;
      }
      host.dialProbe();
    }, Math.min(delayMs ?? Infinity, this.#intervalMs));
    unref(this.#timer);
  }

  clear(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
