/**
 * Helpers for testing apps against real failures: the fault-injection proxy and a free port.
 * @module @herald/server/testing
 */
export {
  createFaultProxy,
  faultProxyDefaults,
  type FaultDirection,
  type FaultDirectionStats,
  type FaultFrame,
  type FaultFramePredicate,
  type FaultProxy,
  type FaultProxyOptions,
  type FaultProxyStats,
  type FaultProxyTarget,
} from './faultProxy.js';
export { freePort } from './freePort.js';
