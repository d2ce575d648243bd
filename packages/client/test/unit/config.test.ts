import { describe, expect, it } from 'vitest';
import { clientDefaults } from '@herald/client';
import { httpTransport } from '@herald/client/http';
import { resolveClientConfig } from '../../src/config.js';

/** The options of `createHeraldClient` resolved once: what the tracker, the connection and the HTTP transport read. */
describe('resolveClientConfig', () => {
  it('takes every default from clientDefaults: WebSocket only, no HTTP settings at all', () => {
    const config = resolveClientConfig({ url: 'ws://a/ws' });
    expect(clientDefaults.transport).toBe('websocket');
    expect(config.connection).toMatchObject({
      urls: ['ws://a/ws'],
      http: null,
      connectionParams: null,
      pingIntervalMs: clientDefaults.heartbeat.pingIntervalMs,
      pongTimeoutMs: clientDefaults.heartbeat.pongTimeoutMs,
      connectTimeoutMs: clientDefaults.connectTimeoutMs,
      maxCallsPerFrame: clientDefaults.maxCallsPerFrame,
    });
    expect(config.tracker).toMatchObject({
      maxQueued: clientDefaults.offlineQueue.maxSize,
      maxQueuedAgeMs: clientDefaults.offlineQueue.maxAgeMs,
      callTimeoutMs: clientDefaults.callTimeoutMs,
      retryMutations: clientDefaults.retryMutations,
    });
    expect(clientDefaults.callTimeoutMs).toBe(60_000);
    expect(config.onStateChange).toBeNull();
    expect(config.persistence).toBeNull();
  });

  it("resolves the HTTP side for 'auto' and 'http': endpoints beside the WebSocket URLs, the fallback's defaults merged", () => {
    const auto = resolveClientConfig({ url: ['ws://a/ws', 'wss://b/ws'], transport: 'auto', http: httpTransport, httpFallback: { upgradeProbeIntervalMs: 5 } });
    expect(auto.connection.http).toMatchObject({
      mode: 'auto',
      urls: ['http://a/trpc', 'https://b/trpc'],
      afterFailures: clientDefaults.httpFallback.afterFailures,
      upgradeProbeIntervalMs: 5,
      EventSource: null,
    });
    const http = resolveClientConfig({ url: 'ws://a/ws', transport: 'http', http: httpTransport, httpUrl: 'http://elsewhere/api', httpFallback: { afterFailures: 0 } });
    expect(http.connection.http).toMatchObject({ mode: 'http', urls: ['http://elsewhere/api'], afterFailures: 1 });
  });

  it('hands the one onError to the tracker and the connection, and rounds maxCallsPerFrame to at least 1', () => {
    const onError = () => undefined;
    const config = resolveClientConfig({ url: 'ws://a/ws', onError, maxCallsPerFrame: 0.5 });
    expect(config.tracker.onError).toBe(onError);
    expect(config.connection.onError).toBe(onError);
    expect(config.connection.maxCallsPerFrame).toBe(1);
  });

  it("refuses 'http' or 'auto' without the HTTP transport, and a transport it does not know", () => {
    expect(() => resolveClientConfig({ url: 'ws://a/ws', transport: 'auto' })).toThrow(/needs the HTTP transport/);
    expect(() => resolveClientConfig({ url: 'ws://a/ws', transport: 'carrier-pigeon' as never })).toThrow(/transport must be/);
  });

  it('callTimeoutMs: a bound in ms, null for none; zero, a negative or NaN is refused', () => {
    expect(resolveClientConfig({ url: 'ws://a/ws', callTimeoutMs: 5 }).tracker.callTimeoutMs).toBe(5);
    expect(resolveClientConfig({ url: 'ws://a/ws', callTimeoutMs: null }).tracker.callTimeoutMs).toBeNull();
    for (const bad of [0, -1, Number.NaN]) {
      expect(() => resolveClientConfig({ url: 'ws://a/ws', callTimeoutMs: bad })).toThrow(/callTimeoutMs must be a positive number/);
    }
  });
});
