/**
 * The Redis broker: several server processes on one Redis behave as one server.
 * @module @herald/server/redis
 */
export { redisBroker, redisBrokerDefaults, type RedisBrokerOptions } from './redisBroker.js';
