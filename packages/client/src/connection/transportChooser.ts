import type { Transport } from '@herald/shared';

/** `transport` of `createHeraldClient`: one transport, or `'auto'` (WebSocket first, HTTP when upgrades fail). */
export type TransportMode = Transport | 'auto';

/**
 * Which transport the next connection attempt uses.
 *
 * `websocket` and `http` always use theirs. `auto` starts on WebSocket and
 * moves to HTTP after `fallbackAfterFailures` failed upgrades in a row, or at
 * once when an upgrade is answered with a plain HTTP response (a proxy that
 * refuses upgrades). Once HTTP has worked it stays first choice for redials
 * (the connection's upgrade probe moves it back to WebSocket). When HTTP
 * fails too, the server is more likely down than the upgrade blocked: the
 * next attempt is a WebSocket again, and attempts alternate until one opens.
 */
export class TransportChooser {
  private httpFirst: boolean;
  private webSocketFailures = 0;
  private refused = false;

  constructor(
    readonly mode: TransportMode,
    private readonly fallbackAfterFailures: number,
  ) {
    this.httpFirst = mode === 'http';
  }

  /**
   * An upgrade was answered with a plain HTTP response since the WebSocket
   * last worked: something on the way refuses upgrades. Otherwise failed
   * upgrades may as well have been a server that was down for a moment.
   */
  get upgradeRefused(): boolean {
    return this.refused;
  }

  next(): Transport {
    if (this.mode !== 'auto') return this.mode;
    return this.httpFirst ? 'http' : 'websocket';
  }

  opened(transport: Transport): void {
    if (this.mode !== 'auto') return;
    this.httpFirst = transport === 'http';
    this.webSocketFailures = 0;
    if (transport === 'websocket') this.refused = false;
  }

  failed(transport: Transport, refused: boolean): void {
    if (this.mode !== 'auto') return;
    if (transport === 'websocket') {
      this.webSocketFailures += 1;
      if (refused) this.refused = true;
      if (refused || this.webSocketFailures >= this.fallbackAfterFailures) this.httpFirst = true;
    } else {
      // One more WebSocket attempt, then HTTP again.
      this.httpFirst = false;
      this.webSocketFailures = Math.max(0, this.fallbackAfterFailures - 1);
    }
  }
}
