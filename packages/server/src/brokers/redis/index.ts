export { redisBroker, redisBrokerDefaults, type RedisBrokerOptions } from './redisBroker.js';
