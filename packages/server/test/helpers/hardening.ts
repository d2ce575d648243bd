/**
 * The app and tools of the production-hardening suites (security, limits,
 * drain, payloads, observability, bad input): a small router over one
 * `numbers` channel with every knob of `createHeraldServer` reachable, raw
 * `ws` sockets that record what the server sends, and a heap probe.
 */
import { initTRPC } from '@trpc/server';
import { WebSocket, type ClientOptions } from 'ws';
import { z } from 'zod';
import {
  createHerald,
  createHeraldServer,
  heraldErrorFormatter,
  resumeInput,
  transformer,
  type Authorize,
  type Broker,
  type HeraldServer,
  type HeraldServerOptions,
} from '@herald/server';
import { served, type Served } from './served.js';

export interface TestUser {
  readonly id: string;
  readonly role?: string;
}

export interface HardeningContext {
  readonly user: TestUser | null;
}

export interface HardeningAppOptions {
  readonly broker?: Broker;
  readonly nodeId?: string;
  readonly historySize?: number;
  readonly authorize?: Authorize<HardeningContext>;
}

/** Gates the `slow` mutation waits on, by name: a test opens them when it wants the answer. */
export class Gates {
  private readonly waiting = new Map<string, () => void>();
  private readonly entered = new Set<string>();

  wait(name: string, signal: AbortSignal): Promise<void> {
    this.entered.add(name);
    return new Promise<void>((resolve) => {
      this.waiting.set(name, resolve);
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  /** Whether the `slow` call named `name` is running. */
  has(name: string): boolean {
    return this.entered.has(name);
  }

  open(name: string): void {
    this.waiting.get(name)?.();
    this.waiting.delete(name);
  }
}

const NumberMessage = z.object({
  n: z.number().int(),
  /** Padding, to make messages big (slow-consumer tests). */
  pad: z.string().max(65_536).optional(),
  bytes: z.instanceof(Uint8Array).optional(),
});

export function createHardeningApp(options: HardeningAppOptions = {}) {
  const herald = createHerald<HardeningContext>({
    ...(options.broker ? { broker: options.broker } : {}),
    ...(options.nodeId ? { nodeId: options.nodeId } : {}),
    ...(options.authorize ? { authorize: options.authorize } : {}),
    onError: () => undefined,
  });
  const numbers = herald.channel('numbers', {
    key: z.string().min(1).max(64),
    message: NumberMessage,
    history: { size: options.historySize ?? 1_000, ttlMs: 60_000 },
  });
  const gates = new Gates();
  const t = initTRPC.context<HardeningContext>().create({ transformer, errorFormatter: heraldErrorFormatter });
  const router = t.router({
    add: t.procedure.input(z.object({ a: z.number(), b: z.number() })).query(({ input }) => input.a + input.b),
    whoami: t.procedure.query(({ ctx }) => ctx.user),
    echoBytes: t.procedure
      .input(z.object({ bytes: z.instanceof(Uint8Array) }))
      .mutation(({ input }) => ({ bytes: input.bytes, length: input.bytes.length, reversed: Uint8Array.from(input.bytes).reverse() })),
    publish: t.procedure
      .input(NumberMessage.extend({ stream: z.string() }))
      .mutation(({ input, ctx }) => {
        const { stream, ...message } = input;
        return numbers.publish(stream, message, { ctx });
      }),
    numbers: t.procedure
      .input(z.object({ stream: z.string(), ...resumeInput }))
      .subscription(({ input, signal, ctx }) => numbers.stream(input.stream, { lastEventId: input.lastEventId, signal, ctx })),
    history: t.procedure.input(z.object({ stream: z.string() })).query(async ({ input, ctx }) => (await numbers.history(input.stream, { ctx })).messages),
    /** Answers once the test opens the gate `name` (or the call is cancelled). */
    slow: t.procedure.input(z.object({ name: z.string() })).mutation(async ({ input, signal }) => {
      await gates.wait(input.name, signal ?? new AbortController().signal);
      return `done ${input.name}`;
    }),
    node: t.procedure.query(() => ({ nodeId: herald.nodeId })),
  });
  return { herald, numbers, gates, router };
}

export type HardeningApp = ReturnType<typeof createHardeningApp>;
export type HardeningRouter = HardeningApp['router'];
export type HardeningServerOptions = Partial<Omit<HeraldServerOptions<HardeningRouter, TestUser>, 'router' | 'herald'>>;

export type HardeningServer = Served<HardeningApp>;

/** The hardening app on a free 127.0.0.1 port; `options` reach `createHeraldServer` as they are. */
export async function startHardeningServer(
  options: HardeningServerOptions = {},
  appOptions: HardeningAppOptions = {},
): Promise<HardeningServer> {
  const app = createHardeningApp(appOptions);
  const server = await createHeraldServer<HardeningRouter, TestUser>({
    router: app.router,
    herald: app.herald,
    port: 0,
    host: '127.0.0.1',
    createContext: ({ user }) => ({ user }),
    ...options,
  });
  return served(app, server);
}

/** A raw `ws` socket that records every frame and how it closed. */
export interface RawSocket {
  readonly socket: WebSocket;
  /** Text frames, parsed as JSON where they are JSON (`PING` stays a string). */
  readonly frames: unknown[];
  readonly opened: Promise<void>;
  /** Resolves with the close code and reason (1006 when the connection just dropped). */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the first frame (seen or to come) that `predicate` accepts. */
  frame<T = unknown>(predicate: (frame: unknown) => boolean, timeoutMs?: number, label?: string): Promise<T>;
  send(data: unknown): void;
  close(): void;
}

export function rawSocket(url: string, options: ClientOptions & { params?: Record<string, string> } = {}): RawSocket {
  const { params, ...clientOptions } = options;
  const socket = new WebSocket(params ? `${url}?connectionParams=1` : url, clientOptions);
  const frames: unknown[] = [];
  const waiters = new Set<() => void>();
  socket.on('error', () => undefined);
  socket.on('message', (data: Buffer, isBinary: boolean) => {
    const text = isBinary ? `<binary ${data.length}>` : data.toString();
    let frame: unknown = text;
    try {
      frame = JSON.parse(text);
    } catch {
      // not JSON: kept as text
    }
    frames.push(frame);
    for (const waiter of [...waiters]) waiter();
  });
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => {
      if (params) socket.send(JSON.stringify({ method: 'connectionParams', data: params }));
      resolve();
    });
    socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with ${res.statusCode ?? '?'}`)));
    socket.once('close', () => reject(new Error('closed before it opened')));
  });
  opened.catch(() => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.once('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const waiter of [...waiters]) waiter();
    });
  });
  return {
    socket,
    frames,
    opened,
    closed,
    frame<T>(predicate: (frame: unknown) => boolean, timeoutMs = 5_000, label = 'a frame') {
      return new Promise<T>((resolve, reject) => {
        const check = () => {
          const found = frames.find(predicate);
          if (found !== undefined) {
            done();
            resolve(found as T);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${label} did not arrive within ${timeoutMs} ms (got ${JSON.stringify(frames).slice(0, 500)})`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    send(data) {
      const text = typeof data === 'string' ? data : JSON.stringify(data);
      if (socket.readyState === WebSocket.CONNECTING) opened.then(() => socket.send(text), () => undefined);
      else socket.send(text);
    },
    close() {
      socket.terminate();
    },
  };
}

/** A frame answering request `id`. */
export const answerTo = (id: number | string | null) => (frame: unknown) =>
  typeof frame === 'object' && frame !== null && (frame as { id?: unknown }).id === id;

/** The `heraldCode` (else the tRPC code) of an error frame, or null. */
export function errorCodeOf(frame: unknown): string | null {
  const error = (frame as { error?: { json?: { data?: { code?: string; heraldCode?: string | null } } } }).error;
  const data = error?.json?.data;
  return data ? (data.heraldCode ?? data.code ?? null) : null;
}

/** A query frame as tRPC's wire protocol has it (input through the transformer). */
export function request(id: number | string, method: 'query' | 'mutation' | 'subscription', path: string, input?: unknown): object {
  return { id, method, params: { path, input: transformer.serialize(input) } };
}

/** Heap in use after a full collection (needs `--expose-gc`, which vitest.config.ts passes). */
export async function heapAfterGc(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc (vitest.config.ts passes it)');
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

/** Polls `read` until it returns a value `accept` takes, bounded by `timeoutMs`. */
export async function eventually<T>(read: () => T | Promise<T>, accept: (value: T) => boolean, timeoutMs = 5_000, label = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`${label}: not reached within ${timeoutMs} ms (last: ${JSON.stringify(value)?.slice(0, 300)})`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** One metric sample from a Prometheus text exposition, or 0 when it is absent. */
export function metricValue(exposition: string, name: string, labels: Record<string, string> = {}): number {
  const labelText = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .join(',');
  const prefix = labelText ? `${name}{${labelText}} ` : `${name} `;
  const line = exposition.split('\n').find((candidate) => candidate.startsWith(prefix));
  return line ? Number(line.slice(prefix.length)) : 0;
}

/** GET /metrics of `server`. */
export async function scrape(server: HeraldServer): Promise<string> {
  const response = await fetch(`${server.httpUrl}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return response.text();
}
