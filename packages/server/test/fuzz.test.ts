import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { transformer, type Authenticate } from '@herald/server';
import { CONNECTION_PARAMS_HEADER, IDEMPOTENCY_KEY_HEADER } from '@herald/shared/internal';
import { answerTo, heapAfterGc, rawSocket, request, startHardeningServer, withTimeout, type HardeningServer, type RawSocket, type TestUser } from '@herald/test-kit';

/**
 * Random and mutated input thrown at a live server through both doors:
 * frames, requests, headers and superjson metadata. Every one is answered,
 * or its socket closed with a documented code; the process never throws
 * (vitest fails on an uncaught exception); the server keeps serving and its
 * heap returns to where it was. `FUZZ_RUNS` sets the runs per door
 * (`pnpm fuzz` runs many more than `pnpm test`).
 */

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 150);
/** Close codes in docs/errors.md a server may end a fuzzed socket with. */
const DOCUMENTED_CLOSES = new Set([1000, 1001, 1002, 1003, 1006, 1007, 1009, 1011, 4000, 4001, 4002, 4003, 4004, 4005, 4006]);
const HEAP_SLACK_BYTES = 32 * 1024 * 1024;

const authenticate: Authenticate<TestUser> = (params) => {
  const user = params?.['user'];
  if (user === 'nobody') throw new Error('refused');
  return user ? { id: user } : null;
};

let server: HardeningServer;
let baselineHeap = 0;

beforeAll(async () => {
  server = await startHardeningServer({ authenticate, limits: { maxPayloadBytes: 65_536, rate: false }, auth: { failedAttempts: false } });
  baselineHeap = await heapAfterGc();
});

afterAll(async () => {
  await server.close();
});

const path = fc.oneof(
  fc.constantFrom('add', 'whoami', 'publish', 'numbers', 'history', 'echoBytes', 'slow', 'node', '', '_herald/ticket', '__proto__', 'add.constructor'),
  fc.string({ maxLength: 40 }),
);

/** superjson-like metadata: real annotation names at real and made-up paths, nested. */
const meta = fc.letrec((tie) => ({
  annotation: fc.oneof(
    fc.tuple(fc.constantFrom('bigint', 'Date', 'undefined', 'map', 'set', 'regexp', 'Error', 'number', 'custom', 'class', 'symbol', 'typed-array', 'bogus')),
    fc.tuple(fc.constantFrom('map', 'set', 'custom'), tie('values')),
  ),
  values: fc.oneof({ depthSize: 'small' }, tie('annotation'), fc.dictionary(fc.string({ maxLength: 12 }), tie('annotation'), { maxKeys: 4 })),
})).values.map((values) => ({ values, v: 1 }));

const input = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((json) => ({ json })),
  fc.record({ json: fc.jsonValue({ maxDepth: 3 }), meta }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.constant(undefined),
);

/** A frame: a request of every shape (valid, mutated, batched), a stop, connectionParams, or bytes that are not JSON. */
const frame = fc.oneof(
  fc.record({ id: fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.constant(null)), method: fc.constantFrom('query', 'mutation', 'subscription', 'subscription.stop', 'connectionParams', 'delete'), params: fc.record({ path, input }, { requiredKeys: [] }) }).map((value) => JSON.stringify(value)),
  fc.array(fc.record({ id: fc.integer({ min: 1, max: 1_000 }), method: fc.constantFrom('query', 'mutation'), params: fc.record({ path, input }) }), { maxLength: 5 }).map((value) => JSON.stringify(value)),
  fc.record({ method: fc.constant('connectionParams'), data: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 })) }).map((value) => JSON.stringify(value)),
  fc.jsonValue({ maxDepth: 5 }).map((value) => JSON.stringify(value)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('PING', 'PONG', '', '{', '[]', 'null'),
);

let socket: RawSocket | null = null;
let probes = 0;

async function liveSocket(): Promise<RawSocket> {
  if (socket && socket.socket.readyState === socket.socket.OPEN) return socket;
  socket?.close();
  socket = rawSocket(server.server.url);
  await withTimeout(socket.opened, 5_000, 'a fuzzing socket to open');
  return socket;
}

describe('fuzzing both doors', () => {
  it('answers or closes with a documented code every frame the WebSocket door is sent', async () => {
    await fc.assert(
      fc.asyncProperty(frame, async (text) => {
        const target = await liveSocket();
        target.send(text);
        const probe = `probe-${++probes}`;
        target.send(request(probe, 'query', 'add', { a: 1, b: 1 }));
        const outcome = await Promise.race([
          target.frame(answerTo(probe), 5_000, 'the probe').then(() => null),
          target.closed.then(({ code }) => code),
        ]);
        if (outcome !== null) expect(DOCUMENTED_CLOSES.has(outcome), `close code ${outcome}`).toBe(true);
      }),
      { numRuns: RUNS },
    );
    socket?.close();
  });

  it('answers every request the HTTP door is sent with a status a client can act on (never a 5xx)', async () => {
    const base = `${server.server.httpUrl}/trpc`;
    const headerValue = fc.oneof(fc.string({ maxLength: 60 }), fc.jsonValue({ maxDepth: 2 }).map((value) => encodeURIComponent(JSON.stringify(value))));
    const httpRequest = fc.record({
      method: fc.constantFrom('GET', 'POST', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'),
      path: fc.oneof(path, fc.array(path, { minLength: 2, maxLength: 4 }).map((paths) => paths.join(','))),
      batch: fc.boolean(),
      input,
      params: fc.option(headerValue),
      key: fc.option(fc.string({ maxLength: 140 })),
      contentType: fc.constantFrom('application/json', 'text/plain', 'multipart/form-data', ''),
      accept: fc.constantFrom('*/*', 'text/event-stream', 'application/json'),
    });
    await fc.assert(
      fc.asyncProperty(httpRequest, async (req) => {
        const serialized = req.input === undefined ? undefined : JSON.stringify(req.batch ? { 0: req.input } : req.input);
        const query = req.method === 'GET' && serialized !== undefined ? `?${req.batch ? 'batch=1&' : ''}input=${encodeURIComponent(serialized)}` : req.batch ? '?batch=1' : '';
        const headers: Record<string, string> = { accept: req.accept };
        if (req.contentType) headers['content-type'] = req.contentType;
        if (req.params !== null) headers[CONNECTION_PARAMS_HEADER] = req.params;
        if (req.key !== null) headers[IDEMPOTENCY_KEY_HEADER] = req.key;
        const controller = new AbortController();
        let status: number;
        try {
          const response = await fetch(`${base}/${encodeURI(req.path)}${query}`, {
            method: req.method,
            headers,
            ...(req.method === 'POST' && serialized !== undefined ? { body: serialized } : {}),
            signal: controller.signal,
          });
          status = response.status;
          // An event stream is live: it is answered; its first bytes are enough.
          if (response.headers.get('content-type')?.startsWith('text/event-stream')) controller.abort();
          else await response.arrayBuffer();
        } finally {
          controller.abort();
        }
        expect(status, `${req.method} ${req.path}`).toBeLessThan(500);
      }),
      { numRuns: RUNS },
    );
  });

  it('still serves, and its heap is back where it was', async () => {
    const after = rawSocket(server.server.url);
    await withTimeout(after.opened, 5_000, 'a socket after fuzzing');
    after.send(request('final', 'query', 'add', { a: 2, b: 3 }));
    expect(await after.frame(answerTo('final'))).toMatchObject({ result: { data: { json: 5 } } });
    after.close();
    expect(transformer.deserialize({ json: 1 })).toBe(1);
    const heap = await heapAfterGc();
    expect(heap - baselineHeap).toBeLessThan(HEAP_SLACK_BYTES);
  });
});
