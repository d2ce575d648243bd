import { createTRPCClient, createWSClient, wsLink, type TRPCClient } from '@trpc/client';
import { createHeraldClient, type HeraldClient } from '@herald/client';
import type { ChannelEvent } from '@herald/server';
import { transformer } from '@herald/shared';
import { WebSocket } from 'ws';
import type { NumbersRouter } from './numbersApp.js';

export type ClientKind = 'stock' | 'herald';
export const CLIENT_KINDS: readonly ClientKind[] = ['stock', 'herald'];

export interface NumbersClient {
  readonly kind: ClientKind;
  readonly trpc: TRPCClient<NumbersRouter>;
  /** Herald clients only. */
  readonly herald: HeraldClient<NumbersRouter> | null;
  close(): Promise<void>;
}

/** Fast retries: chaos tests cut connections many times a second. */
const RETRY_MS = 20;

export function numbersClient(
  kind: ClientKind,
  url: string,
  options: { name?: string; heartbeat?: { pingIntervalMs: number; pongTimeoutMs: number } } = {},
): NumbersClient {
  const connectionParams = options.name ? { name: options.name } : null;
  if (kind === 'herald') {
    const herald = createHeraldClient<NumbersRouter>({
      url,
      connectionParams,
      backoff: { initialDelayMs: RETRY_MS, maxDelayMs: 100 },
      ...(options.heartbeat ? { heartbeat: options.heartbeat } : {}),
    });
    return { kind, trpc: herald.trpc, herald, close: () => herald.close() };
  }
  const wsClient = createWSClient({
    url,
    connectionParams,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    retryDelayMs: () => RETRY_MS,
    ...(options.heartbeat
      ? { keepAlive: { enabled: true, intervalMs: options.heartbeat.pingIntervalMs, pongTimeoutMs: options.heartbeat.pongTimeoutMs } }
      : {}),
  });
  const trpc = createTRPCClient<NumbersRouter>({ links: [wsLink({ client: wsClient, transformer })] });
  return { kind, trpc, herald: null, close: () => wsClient.close() };
}

export interface NumbersRecorder {
  readonly numbers: number[];
  readonly events: ChannelEvent<{ n: number }>[];
  readonly gaps: ChannelEvent<{ n: number }>[];
  readonly errors: unknown[];
  stop(): void;
}

/** Subscribes to `numbers` on `stream` and records every event. */
export function recordNumbers(client: NumbersClient, stream: string): NumbersRecorder {
  const recorder = { numbers: [] as number[], events: [] as ChannelEvent<{ n: number }>[], gaps: [] as ChannelEvent<{ n: number }>[], errors: [] as unknown[] };
  const subscription = client.trpc.numbers.subscribe(
    { stream },
    {
      onData: ({ data: event }) => {
        recorder.events.push(event);
        if (event.type === 'message') recorder.numbers.push(event.message.n);
        if (event.type === 'gap') recorder.gaps.push(event);
      },
      onError: (error) => recorder.errors.push(error),
    },
  );
  return { ...recorder, stop: () => subscription.unsubscribe() };
}

/** Resolves when `predicate` holds, polling every 10 ms; rejects after `timeoutMs` with `what`. */
export async function waitUntil(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
