import type { Logger } from 'pino';
import type { RefusalReason } from '../errors.js';

/** At most one line per reason in this window; the refusals in between are counted into the next. */
export const REFUSAL_LOG_WINDOW_MS = 10_000;

/** Origins remembered as logged (each is logged once): a bound, so a flood of made-up origins cannot grow it. */
const MAX_LOGGED_ORIGINS = 1_000;

/**
 * Refusals in the log, at `warn`, so an operator sees an attack or a
 * misconfiguration without the log becoming the attack: one line per reason
 * per `REFUSAL_LOG_WINDOW_MS`, carrying how many more there were since the
 * last line. A refused `Origin` also gets one line of its own per origin
 * with the fix, since it is nearly always a configuration to change.
 */
export class RefusalLog {
  private readonly lastLogged = new Map<RefusalReason, { at: number; suppressed: number }>();
  private readonly loggedOrigins = new Set<string>();

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  refused(reason: RefusalReason, message: string, detail: { readonly address?: string; readonly origin?: string } = {}): void {
    if (detail.origin !== undefined) this.originRefused(detail.origin);
    const now = this.now();
    const last = this.lastLogged.get(reason);
    if (last && now - last.at < REFUSAL_LOG_WINDOW_MS) {
      last.suppressed++;
      return;
    }
    const suppressed = last?.suppressed ?? 0;
    this.lastLogged.set(reason, { at: now, suppressed: 0 });
    this.logger.warn({ event: 'request.refused', reason, ...detail, ...(suppressed ? { alsoRefusedSinceLastLine: suppressed } : {}) }, message);
  }

  private originRefused(origin: string): void {
    if (this.loggedOrigins.has(origin) || this.loggedOrigins.size >= MAX_LOGGED_ORIGINS) return;
    this.loggedOrigins.add(origin);
    this.logger.warn(
      { event: 'origin.refused', origin },
      `Refused a page of origin ${origin}. If it is yours, add it to createHeraldServer's allowedOrigins (allowedOrigins: ['${origin}']), or serve the page and Herald from one origin (in development, your dev server's proxy: Vite's server.proxy)`,
    );
  }
}
