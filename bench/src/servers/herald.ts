import { initTRPC } from '@trpc/server';
import { createHerald, createHeraldServer, heraldErrorFormatter, resumeInput, transformer, type Herald } from '@herald/server';
import { pino } from 'pino';
import { z } from 'zod';
import type { BenchMessage } from '../lib/payload.js';
import { roomOf, type ServerConfig } from '../lib/protocol.js';
import { echoInput } from './echo.js';
import { serveThroughFetch, type ServedHerald } from './heraldFetch.js';
import { setUpTracing } from './tracing.js';
import { ROOM, type BenchServer } from './types.js';

/**
 * The bench app on Herald: one channel, its subscription (the native path),
 * a trivial query, an echo, and a live query over the newest message of a room
 * (`latest`, kept in memory by `publish`), whose live form is `onLatest`.
 */
export function createHeraldBenchApp(herald: Herald) {
  const messages = herald.channel('bench', {
    key: z.string().min(1).max(64),
    message: z.object({ n: z.number().int(), sentAt: z.number(), text: z.string(), bytes: z.instanceof(Uint8Array).optional() }),
  });
  const newest = new Map<string, BenchMessage>();
  const counts = { recomputes: 0 };
  const t = initTRPC.create({ transformer, errorFormatter: heraldErrorFormatter });
  const Room = z.object({ room: z.string().min(1).max(64) });
  const latest = t.procedure.input(Room).query(({ input }): BenchMessage | null => {
    counts.recomputes++;
    return newest.get(input.room) ?? null;
  });
  const latestLive = herald.live(latest, { name: 'latest', dependsOn: (input) => [messages.key(input.room)] });
  const router = t.router({
    ping: t.procedure.query(() => 'pong'),
    echo: t.procedure.input(echoInput).query(({ input }) => input),
    onMessage: t.procedure
      .input(z.object({ room: z.string(), ...resumeInput }))
      .subscription(({ input, signal }) => messages.stream(input.room, { lastEventId: input.lastEventId, signal })),
    latest,
    onLatest: t.procedure
      .input(Room.extend(resumeInput))
      .subscription(({ input, ctx, signal }) => latestLive.stream({ room: input.room }, { ctx, lastEventId: input.lastEventId, signal })),
  });
  /** Keeps `message` as the room's newest (what `latest` reads), then publishes it. */
  const publish = (room: string, message: BenchMessage) => {
    newest.set(room, message);
    return messages.publish(room, message);
  };
  return { messages, router, publish, counts };
}

/** The router type the bench's typed RPC clients use (the stock tRPC bench router has the same `ping` and `echo`). */
export type BenchRouter = ReturnType<typeof createHeraldBenchApp>['router'];

/** Far above anything a scenario does; the checks still run, they just never refuse. */
const UNBOUNDED = 1_000_000_000;

/**
 * Herald's defaults, except what a benchmark from one address must change:
 * the connection limits (every client comes from 127.0.0.1) and the
 * per-connection request rate are raised (their checks still run), and the
 * per-connection log lines are silenced (no other system logs). Metrics stay on.
 */
export const BENCH_SERVER_OPTIONS = {
  limits: {
    maxConnections: UNBOUNDED,
    maxConnectionsPerIp: UNBOUNDED,
    rate: { perSecond: UNBOUNDED, burst: UNBOUNDED },
  },
  logger: pino({ level: 'silent' }),
};

export async function startHerald(config: ServerConfig): Promise<BenchServer> {
  await setUpTracing(config.tracing ?? 'no-sdk');
  // The Redis broker (and ioredis) only for the scale-out runs: a memory-broker server starts without loading them.
  const broker = config.redis
    ? (await import('@herald/server/redis')).redisBroker({
        ...(config.redis.clusterUrls ? { clusterUrls: config.redis.clusterUrls } : { url: config.redis.url }),
        prefix: config.redis.prefix,
      })
    : undefined;
  const herald = createHerald({
    ...(broker ? { broker } : {}),
    ...(config.nodeId ? { nodeId: config.nodeId } : {}),
  });
  const app = createHeraldBenchApp(herald);
  const options = {
    router: app.router,
    herald,
    ...BENCH_SERVER_OPTIONS,
    ...(config.compression ? { compression: config.compression } : {}),
    createContext: () => ({}),
  };
  const server: ServedHerald =
    config.httpDoor === 'fetch'
      ? await serveThroughFetch(options, config.port)
      : await createHeraldServer({ ...options, port: config.port, host: '127.0.0.1' });

  const rooms = config.rooms ?? 0;
  let next = 0;
  return {
    port: server.port,
    connectionCount: () => server.connectionCount,
    async framesIn() {
      // The metrics' default prefix, which the bench keeps.
      const text = (await server.metrics?.getSingleMetricAsString('herald_messages_received_total')) ?? '';
      return Number(/^herald_messages_received_total (\S+)$/m.exec(text)?.[1] ?? 0);
    },
    publish: rooms > 0 ? (message) => app.publish(roomOf(next++ % rooms), message) : (message) => app.publish(ROOM, message),
    recomputes: () => app.counts.recomputes,
    async close() {
      await server.close();
      await herald.close();
    },
  };
}
