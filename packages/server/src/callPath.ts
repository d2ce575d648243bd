import type { AnyRouter } from '@trpc/server';
import { IdempotentCalls } from './calls/idempotentCall.js';
import { Outcomes } from './calls/outcome.js';
import { CallRunner } from './calls/runner.js';
import type { ServerConfig } from './config.js';
import { RefusalReason } from './errors.js';
import type { ServerMetrics } from './observability/metrics.js';
import { RequestGate } from './transport/gate.js';

/**
 * The one call path every door of a server goes through: the request gate
 * (may it, who is it, who pays) and the call runner (run it, once per key,
 * shape and report its errors). Each door (the WebSocket, the HTTP fallback,
 * the admin socket) is an adapter over one of these.
 */
export interface CallPath<TRouter extends AnyRouter> {
  readonly gate: RequestGate;
  readonly runner: CallRunner<TRouter>;
}

/** Builds the call path of `config`'s router, with its limits, auth and idempotency settings. */
export function createCallPath<TRouter extends AnyRouter>(
  config: ServerConfig<TRouter>,
  metrics: ServerMetrics,
  isDraining: () => boolean,
  revokedAt: (userKey: string) => number | null = () => null,
): CallPath<TRouter> {
  const { limits, logger } = config;
  const gate = new RequestGate({
    authenticate: config.authenticate,
    createContext: config.createContext,
    userKey: config.userKey,
    report: config.report,
    logError: (error, message) => logger.error({ err: error }, message),
    originAllowed: config.originAllowed,
    isDraining,
    maxConnections: limits.maxConnections,
    maxConnectionsPerIp: limits.maxConnectionsPerIp,
    maxConnectionsPerUser: limits.maxConnectionsPerUser,
    maxBatchSize: limits.maxBatchSize,
    maxPayloadBytes: limits.maxPayloadBytes,
    maxHttpCallsPerIp: limits.maxHttpCallsPerIp,
    maxHttpAnswerBytes: limits.maxHttpAnswerBytes,
    maxHttpAnswerBytesPerIp: limits.maxHttpAnswerBytesPerIp,
    maxSubscriptionsPerConnection: limits.maxSubscriptionsPerConnection,
    rate: limits.rate,
    failedAttempts: config.auth.failedAttempts,
    expiryGraceMs: config.auth.expiryGraceMs,
    revokedAt,
    metrics,
    logger,
  });
  const runner = new CallRunner({
    router: config.router,
    outcomes: new Outcomes(config.router),
    idempotentCalls: new IdempotentCalls({
      ...config.idempotency,
      onRefused: (error) => gate.refuse(RefusalReason.IDEMPOTENCY_RECORDS, error),
    }),
    report: config.report,
    metrics,
  });
  return { gate, runner };
}
