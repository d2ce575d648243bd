/**
 * A request gate as the unit tests build one: small limits, a clock the test
 * moves (`clock.now`), and the refusals it counted, by reason.
 */
import { pino } from 'pino';
import { RefusalReason } from '../../src/errors.js';
import { ServerMetrics } from '../../src/observability/metrics.js';
import { RequestGate, type GateSettings } from '../../src/transport/gate.js';

export interface Clock {
  now: number;
}

/** A gate with the unit tests' limits, `settings` over them. */
export function gate(settings: Partial<GateSettings> = {}, clock: Clock = { now: 1_000_000 }) {
  const metrics = new ServerMetrics(null);
  const refusals = (): Record<string, number> =>
    Object.fromEntries(Object.values(RefusalReason).flatMap((reason) => (metrics.refusalCount(reason) ? [[reason, metrics.refusalCount(reason)]] : [])));
  const built = new RequestGate({
    authenticate: undefined,
    createContext: () => ({}),
    userKey: (user) => (typeof user === 'string' ? user : null),
    report: () => undefined,
    logError: () => undefined,
    originAllowed: null,
    isDraining: () => false,
    maxConnections: 10,
    maxConnectionsPerIp: 3,
    maxConnectionsPerUser: 2,
    maxBatchSize: 5,
    maxPayloadBytes: 1_000,
    maxHttpCallsPerIp: 4,
    maxHttpAnswerBytes: 1_000,
    maxHttpAnswerBytesPerIp: 1_500,
    maxSubscriptionsPerConnection: 4,
    rate: { perSecond: 10, burst: 3 },
    failedAttempts: { perSecond: 1, burst: 2 },
    expiryGraceMs: 1_000,
    metrics,
    logger: pino({ level: 'silent' }),
    now: () => clock.now,
    ...settings,
  });
  return { gate: built, refusals, clock };
}
