import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHeraldClient, type HeraldClient } from '@herald/client';
import { CloseCode } from '@herald/shared';
import {
  answerTo,
  errorCodeOf,
  FAST_BACKOFF,
  heapAfterGc,
  metricValue,
  pollUntil,
  rawSocket,
  request,
  scrape,
  startHardeningServer,
  withTimeout,
  type HardeningRouter,
  type HardeningServer,
  type RawFrame,
  type RawSocket,
} from '@herald/test-kit';

/**
 * Hostile and broken input against a running server. For each kind: the
 * documented answer (an error frame's code, or a close code), a well-behaved
 * client served all along, and the heap back near where it started once the
 * offender is gone.
 */

const MAX_PAYLOAD = 64 * 1024;
const HEADERS_TIMEOUT_MS = 400;
/** Generous: the point is "back near the start", not "exactly where it was". */
const HEAP_SLACK_BYTES = 24 * 1024 * 1024;

let node: HardeningServer;
let good: HeraldClient<HardeningRouter>;
let baselineHeap = 0;
const sockets: RawSocket[] = [];
const tcps: Socket[] = [];

beforeAll(async () => {
  node = await startHardeningServer({
    limits: { maxPayloadBytes: MAX_PAYLOAD, headersTimeoutMs: HEADERS_TIMEOUT_MS },
    drainTimeoutMs: 500,
  });
  good = createHeraldClient<HardeningRouter>({ url: node.server.url, backoff: FAST_BACKOFF });
  // Warm up every path the tests use, so the baseline includes what the first use allocates for good.
  for (let i = 0; i < 3; i++) {
    await good.trpc.add.query({ a: i, b: 1 });
    const warm = attacker();
    await warm.opened;
    warm.send('{');
    warm.send(request(1, 'query', 'nope'));
    await warm.frame(answerTo(1));
    warm.close();
  }
  await recovered();
  baselineHeap = await heapAfterGc();
});

afterAll(async () => {
  await good?.close();
  await node?.close();
});

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  for (const tcp of tcps.splice(0)) tcp.destroy();
  await recovered();
  const heap = await heapAfterGc();
  expect(heap - baselineHeap, `heap grew from ${mb(baselineHeap)} to ${mb(heap)}`).toBeLessThan(HEAP_SLACK_BYTES);
});

function attacker(options: Parameters<typeof rawSocket>[1] = {}): RawSocket {
  const socket = rawSocket(node.server.url, options);
  sockets.push(socket);
  return socket;
}

/** Only the good client is left connected, and it is served. */
async function recovered(): Promise<void> {
  await pollUntil(() => node.server.connectionCount, 'attackers to be gone', { accept: (count) => count === 1, timeoutMs: 10_000 });
  await stillServes();
}

async function stillServes(): Promise<void> {
  const a = Math.floor(Math.random() * 1_000);
  expect(await withTimeout(good.trpc.add.query({ a, b: 1 }), 5_000, 'the good client')).toBe(a + 1);
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** Sends `frame`, then a probe query; resolves with every frame that came before the probe's answer. */
async function framesBefore(socket: RawSocket, frame: unknown, probeId = 'probe'): Promise<unknown[]> {
  const from = socket.frames.length;
  socket.send(frame);
  socket.send(request(probeId, 'query', 'add', { a: 1, b: 1 }));
  await socket.frame(answerTo(probeId), 5_000, `the answer to ${probeId}`);
  const frames = socket.frames.slice(from);
  return frames.slice(0, frames.findIndex(answerTo(probeId)));
}

describe('bad input', () => {
  it('answers malformed JSON with PARSE_ERROR and keeps the socket', async () => {
    const socket = attacker();
    for (const [i, text] of ['{"id":1,', '{id:1}', 'undefined', '\u0000', '{"a":1}}'].entries()) {
      const frames = await framesBefore(socket, text, `probe-${i}`);
      expect(frames.map(errorCodeOf), text).toEqual(['PARSE_ERROR']);
      expect(frames[0]).toMatchObject({ id: null });
    }
    await stillServes();
  });

  it('answers JSON that is not a request object with BAD_REQUEST; an empty batch gets nothing', async () => {
    const socket = attacker();
    for (const [i, value] of [42, 'text', null, true, [1, 2]].entries()) {
      const frames = await framesBefore(socket, JSON.stringify(value), `probe-${i}`);
      expect(frames.map(errorCodeOf), JSON.stringify(value)).toEqual(Array.isArray(value) ? ['BAD_REQUEST', 'BAD_REQUEST'] : ['BAD_REQUEST']);
    }
    expect(await framesBefore(socket, '[]', 'probe-empty')).toEqual([]);
    await stillServes();
  });

  it('answers wrong JSON-RPC shapes with BAD_REQUEST, echoing the id when it is usable', async () => {
    const socket = attacker();
    const shapes: [unknown, number | string | null][] = [
      [{ id: 1 }, 1],
      [{ id: 2, method: 'query' }, 2],
      [{ id: 3, method: 'query', params: 5 }, 3],
      [{ id: 4, method: 'query', params: { path: 5 } }, 4],
      [{ id: { nested: true }, method: 'query', params: { path: 'add' } }, null],
      [{ id: 6, jsonrpc: '1.0', method: 'query', params: { path: 'add' } }, 6],
      [{ method: 'query', params: { path: 'add', input: { json: { a: 1, b: 1 } } } }, null],
    ];
    for (const [i, [shape, id]] of shapes.entries()) {
      const frames = await framesBefore(socket, shape, `probe-${i}`);
      expect(frames.map(errorCodeOf), JSON.stringify(shape)).toEqual(['BAD_REQUEST']);
      expect((frames[0] as { id: unknown }).id, JSON.stringify(shape)).toBe(id);
    }
    await stillServes();
  });

  it('answers unknown methods with BAD_REQUEST and unknown paths with NOT_FOUND', async () => {
    const socket = attacker();
    expect((await framesBefore(socket, { id: 1, method: 'delete', params: { path: 'add' } }, 'p1')).map(errorCodeOf)).toEqual(['BAD_REQUEST']);
    for (const [i, path] of ['nope', '', 'add.toString', '__proto__', 'constructor', 'numbers.constructor', '_def', 'a'.repeat(10_000)].entries()) {
      const frames = await framesBefore(socket, request(10 + i, 'query', path), `p-${i}`);
      expect(frames.map(errorCodeOf), path.slice(0, 40)).toEqual(['NOT_FOUND']);
    }
    // The right path with the wrong kind of call: tRPC finds no such procedure either.
    expect((await framesBefore(socket, request(30, 'subscription', 'add', { a: 1, b: 1 }), 'p30')).map(errorCodeOf)).toEqual(['NOT_FOUND']);
    await stillServes();
  });

  it('refuses a duplicate id of a call still running with BAD_REQUEST, and answers the first', async () => {
    const socket = attacker();
    socket.send(request(7, 'mutation', 'slow', { name: 'dup' }));
    await withTimeout(node.app.gates.entered('dup'), 5_000, 'the call to start');
    const frames = await framesBefore(socket, request(7, 'query', 'add', { a: 1, b: 1 }));
    expect(frames.map(errorCodeOf)).toEqual(['BAD_REQUEST']);
    expect(JSON.stringify(frames[0])).toMatch(/Duplicate id 7/);
    node.app.gates.open('dup');
    expect(await socket.frame(answerTo(7))).toMatchObject({ id: 7, error: expect.anything() });
    const answered = await socket.frame((frame) => answerTo(7)(frame) && (frame as RawFrame).result !== undefined, 5_000, 'the first call’s answer');
    expect(answered).toMatchObject({ result: { data: { json: 'done dup' } } });
    expect(socket.frames.filter(answerTo(7))).toHaveLength(2);
    await stillServes();
  });

  it('ignores subscription.stop for ids it does not know (one without an id is a BAD_REQUEST)', async () => {
    const socket = attacker();
    for (const id of [12345, 'x', -1, 1e300]) {
      expect(await framesBefore(socket, { id, method: 'subscription.stop' }, `stop-${String(id)}`)).toEqual([]);
    }
    expect((await framesBefore(socket, { id: null, method: 'subscription.stop' }, 'stop-null')).map(errorCodeOf)).toEqual(['BAD_REQUEST']);
    await stillServes();
  });

  it('answers inputs of the wrong type with BAD_REQUEST and the zod issues', async () => {
    const socket = attacker();
    const inputs: unknown[] = [
      { json: { a: '1', b: 2 } },
      { json: null },
      { json: [1, 2] },
      {},
      { json: { a: 1, b: 2 }, meta: { values: { a: ['bogus-type'] } } },
    ];
    for (const [i, input] of inputs.entries()) {
      const frames = await framesBefore(socket, { id: i, method: 'query', params: { path: 'add', input } }, `p-${i}`);
      expect(frames.map(errorCodeOf), JSON.stringify(input)).toEqual(['BAD_REQUEST']);
    }
    // Meta that is not superjson's is ignored, and the plain JSON input is used.
    const [tolerated] = await framesBefore(socket, { id: 98, method: 'query', params: { path: 'add', input: { json: { a: 1, b: 2 }, meta: 'x' } } }, 'p98');
    expect(tolerated).toMatchObject({ id: 98, result: { data: { json: 3 } } });
    const [withIssues] = await framesBefore(socket, request(99, 'query', 'add', { a: 'one', b: 2 }), 'p99');
    expect(withIssues).toMatchObject({ error: { json: { data: { zodIssues: [expect.objectContaining({ path: ['a'] })] } } } });
    await stillServes();
  });

  it('closes with 1009 on a frame over maxPayloadBytes, and counts it', async () => {
    const before = metricValue(await scrape(node.server), 'herald_refusals_total', { reason: 'max_payload' });
    const socket = attacker();
    await socket.opened;
    socket.send(JSON.stringify(request(1, 'query', 'add', { a: 1, b: 1, pad: 'x'.repeat(MAX_PAYLOAD) })));
    expect((await socket.closed).code).toBe(CloseCode.MESSAGE_TOO_BIG);
    expect(metricValue(await scrape(node.server), 'herald_refusals_total', { reason: 'max_payload' })).toBe(before + 1);
    await stillServes();
  });

  it('answers binary frames on a JSON connection with UNPROCESSABLE_CONTENT and keeps the socket', async () => {
    const socket = attacker();
    await socket.opened;
    // The first frame makes the connection JSON (a binary one would make it MessagePack: msgpack.test.ts).
    socket.send(request(1, 'query', 'add', { a: 0, b: 1 }));
    await socket.frame(answerTo(1));
    socket.socket.send(Buffer.from(JSON.stringify(request(3, 'query', 'add', { a: 1, b: 1 }))), { binary: true });
    socket.socket.send(Buffer.from([0, 1, 2, 255]), { binary: true });
    const frames = await framesBefore(socket, request(2, 'query', 'add', { a: 2, b: 2 }));
    expect(frames.map(errorCodeOf)).toEqual(['UNPROCESSABLE_CONTENT', 'UNPROCESSABLE_CONTENT', null]);
    expect(frames[2]).toMatchObject({ id: 2, result: { data: { json: 4 } } });
    await stillServes();
  });

  it('closes with 1007 on a text frame that is not UTF-8', async () => {
    const socket = attacker();
    await socket.opened;
    socket.socket.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
    expect((await socket.closed).code).toBe(1007);
    await stillServes();
  });

  it('survives deeply nested JSON, as a frame, as a batch and as an input', async () => {
    const socket = attacker();
    // As deep as fits in a frame under the payload limit (each level 6 bytes).
    const depth = 10_000;
    const nestedArray = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    expect((await framesBefore(socket, nestedArray, 'p1')).map(errorCodeOf)).toEqual(['BAD_REQUEST']);
    const nestedObject = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    expect((await framesBefore(socket, nestedObject, 'p2')).map(errorCodeOf)).toEqual(['BAD_REQUEST']);
    const deepInput = `{"id":3,"method":"query","params":{"path":"add","input":{"json":${nestedObject}}}}`;
    expect((await framesBefore(socket, deepInput, 'p3')).map(errorCodeOf)).toEqual(['BAD_REQUEST']);
    const deepMeta = `{"id":4,"method":"query","params":{"path":"add","input":{"json":{"a":1,"b":1},"meta":${nestedObject}}}}`;
    expect((await framesBefore(socket, deepMeta, 'p4')).length).toBeLessThanOrEqual(1);
    await stillServes();
  });

  it('does not let __proto__ or constructor keys reach any prototype', async () => {
    const socket = attacker({ params: { __proto__: 'x', constructor: 'y', token: 'z' } as Record<string, string> });
    const hostile = [
      '{"id":1,"method":"query","params":{"path":"add","input":{"json":{"a":1,"b":2,"__proto__":{"polluted":true}}}}}',
      '{"id":2,"method":"query","params":{"path":"add","input":{"json":{"a":1,"b":2,"constructor":{"prototype":{"polluted":true}}}}}}',
      '{"id":3,"method":"query","params":{"path":"add","input":{"json":{"a":1,"b":2},"meta":{"values":{"__proto__.polluted":["Date"]}}}}}',
      '{"id":4,"method":"query","params":{"path":"add","input":{"json":{"a":1,"b":2},"meta":{"referentialEqualities":{"a":["__proto__.polluted"]}}}}}',
      '{"id":5,"method":"query","params":{"path":"add","input":{"json":{"a":1,"b":2}},"__proto__":{"polluted":true}},"__proto__":{"polluted":true}}',
      '{"id":6,"method":"query","params":{"path":"add","lastEventId":"1-0","input":{"json":{"a":1,"b":2,"__proto__":{"lastEventId":"x"}}}}}',
    ];
    const answers: unknown[] = [];
    for (const [i, text] of hostile.entries()) {
      socket.send(text);
      answers.push(await socket.frame(answerTo(i + 1)));
    }
    // Each is answered (3, or BAD_REQUEST where the transformer refuses the path), and nothing leaked.
    for (const answer of answers) {
      const code = errorCodeOf(answer);
      if (code === null) expect(answer).toMatchObject({ result: { data: { json: 3 } } });
      else expect(code).toBe('BAD_REQUEST');
    }
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect((Object.prototype as { polluted?: unknown }).polluted).toBeUndefined();
    await stillServes();
  });

  it('answers 10,000 subscribe requests on one socket within its limits, and frees them all on close', async () => {
    const socket = attacker();
    await socket.opened;
    const total = 10_000;
    // The first frame answering each id, read as frames arrive (not rescanned: this process also runs the server).
    const firstAnswers = new Map<number, unknown>();
    let scanned = 0;
    const answeredCount = () => {
      for (; scanned < socket.frames.length; scanned++) {
        const frame = socket.frames[scanned];
        const id = (frame as { id?: unknown }).id;
        if (typeof id === 'number' && !firstAnswers.has(id)) firstAnswers.set(id, frame);
      }
      return firstAnswers.size;
    };
    // Batches of 100, each sent once the previous one is answered.
    for (let batch = 0; batch < total / 100; batch++) {
      socket.send(Array.from({ length: 100 }, (_, i) => request(batch * 100 + i + 1, 'subscription', 'numbers', { stream: `s${i % 10}` })));
      await pollUntil(answeredCount, `batch ${batch} to be answered`, { accept: (count) => count === (batch + 1) * 100, timeoutMs: 10_000 });
    }
    const started = [...firstAnswers.values()].filter((frame) => (frame as { result?: { type?: string } }).result?.type === 'started');
    const refused = [...firstAnswers.values()].filter((frame) => errorCodeOf(frame) === 'LIMIT_EXCEEDED');
    expect(started.length + refused.length).toBe(total);
    // The burst (1,000) and maxSubscriptionsPerConnection (1,000) bound what one socket holds.
    expect(started.length).toBe(1_000);
    expect(metricValue(await scrape(node.server), 'herald_subscriptions')).toBe(1_000);
    await stillServes();
    // What this test kept of the answers is the test's memory, not the server's.
    socket.frames.length = 0;
    firstAnswers.clear();
    socket.close();
    await pollUntil(async () => metricValue(await scrape(node.server), 'herald_subscriptions'), 'subscriptions to end', { accept: (count) => count === 0, timeoutMs: 10_000 });
  });

  it('closes a socket that sends 10,000 subscribe requests at once without reading, as a slow consumer (4002)', async () => {
    const closesBefore = metricValue(await scrape(node.server), 'herald_slow_consumer_closes_total');
    // From an address of its own: the previous test spent 127.0.0.1's request budget, which outlives its socket.
    const socket = attacker({ localAddress: '127.0.0.3' });
    await socket.opened;
    // It stops reading: what the server writes piles up in the kernel's buffers, then in the server's.
    socket.socket.pause();
    for (let batch = 0; batch < 100; batch++) {
      socket.send(Array.from({ length: 100 }, (_, i) => request(batch * 100 + i + 1, 'subscription', 'numbers', { stream: `s${i % 10}` })));
    }
    await pollUntil(async () => metricValue(await scrape(node.server), 'herald_subscriptions'), 'the burst of subscriptions to start', {
      accept: (count) => count >= 1_000,
      timeoutMs: 10_000,
    });
    // One 16 KB message per stream reaches its 100 subscriptions on this socket: 16 MB for a reader that
    // reads nothing, far past what the kernel holds and past maxBufferedBytes.
    const pad = 'x'.repeat(16_384);
    await Promise.all(Array.from({ length: 10 }, (_, i) => node.app.numbers.publish(`s${i}`, { n: 1, pad })));
    await pollUntil(async () => metricValue(await scrape(node.server), 'herald_slow_consumer_closes_total'), 'the slow consumer to be closed', {
      accept: (count) => count === closesBefore + 1,
      timeoutMs: 10_000,
    });
    socket.socket.terminate();
    socket.frames.length = 0;
    await pollUntil(async () => metricValue(await scrape(node.server), 'herald_subscriptions'), 'subscriptions to end', { accept: (count) => count === 0, timeoutMs: 10_000 });
    await stillServes();
  });

  it('turns a flood of connections from one address away with 429, while serving the connected client', async () => {
    const flood = Array.from({ length: 300 }, () => attacker());
    const outcomes = await Promise.all(
      flood.map((socket) =>
        socket.opened.then(
          () => 'open',
          (error: Error) => error.message,
        ),
      ),
    );
    const opened = outcomes.filter((outcome) => outcome === 'open').length;
    expect(opened).toBeLessThanOrEqual(100 - 1); // the good client holds one of the address's 100
    expect(outcomes.filter((outcome) => outcome === 'upgrade refused with 429').length).toBe(300 - opened);
    await stillServes();
    for (const socket of flood) socket.close();
  });

  it('drops an upgrade that never completes its headers, and a connection that says nothing, after headersTimeoutMs', async () => {
    const stalled = async (payload: string) => {
      const tcp = connect(node.server.port, '127.0.0.1');
      tcps.push(tcp);
      let received = '';
      tcp.on('data', (chunk: Buffer) => (received += chunk.toString()));
      tcp.on('error', () => undefined);
      await new Promise((resolve) => tcp.once('connect', resolve));
      if (payload) tcp.write(payload);
      const started = Date.now();
      await withTimeout(new Promise((resolve) => tcp.once('close', resolve)), 10_000, 'the stalled socket to be dropped');
      return { received, elapsed: Date.now() - started };
    };
    const partial = await stalled('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Ver');
    expect(partial.received).toMatch(/^HTTP\/1\.1 408/);
    expect(partial.elapsed).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    const silent = await stalled('');
    expect(silent.elapsed).toBeLessThan(5_000);
    await stillServes();
  });

  it('stays up and keeps serving under random frames (property-based, 200 runs)', async () => {
    const paths = ['add', 'whoami', 'numbers', 'history', 'publish', 'echoBytes', 'node', 'nope'];
    const message = fc.record(
      {
        id: fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.constant(null), fc.jsonValue({ maxDepth: 2 })),
        jsonrpc: fc.constantFrom('2.0', '1.0'),
        method: fc.oneof(fc.constantFrom('query', 'mutation', 'subscription', 'subscription.stop', 'connectionParams'), fc.string({ maxLength: 12 })),
        params: fc.oneof(
          fc.record(
            {
              path: fc.oneof(fc.constantFrom(...paths), fc.string({ maxLength: 20 })),
              input: fc.oneof(fc.record({ json: fc.jsonValue({ maxDepth: 4 }) }), fc.jsonValue({ maxDepth: 4 })),
              lastEventId: fc.oneof(fc.string({ maxLength: 30 }), fc.constant('0-0'), fc.integer()),
            },
            { requiredKeys: [] },
          ),
          fc.jsonValue({ maxDepth: 3 }),
        ),
      },
      { requiredKeys: [] },
    );
    const frame = fc.oneof(
      message.map((value) => ({ kind: 'text' as const, data: JSON.stringify(value) })),
      fc.array(message, { maxLength: 5 }).map((values) => ({ kind: 'text' as const, data: JSON.stringify(values) })),
      fc.json({ maxDepth: 4 }).map((data) => ({ kind: 'text' as const, data })),
      fc.string({ maxLength: 200 }).map((data) => ({ kind: 'text' as const, data })),
      fc.uint8Array({ maxLength: 200 }).map((data) => ({ kind: 'binary' as const, data })),
      fc.uint8Array({ maxLength: 50 }).map((data) => ({ kind: 'raw-text' as const, data })),
    );

    let socket = attacker();
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(frame, async (input) => {
        runs++;
        if (socket.socket.readyState > 1) socket = attacker();
        await socket.opened.catch(() => undefined);
        if (socket.socket.readyState !== 1) {
          socket = attacker();
          await socket.opened;
        }
        if (input.kind === 'text') socket.socket.send(input.data);
        else socket.socket.send(Buffer.from(input.data), { binary: input.kind === 'binary' });
        // Every 20 runs: the well-behaved client is still served.
        if (runs % 20 === 0) await stillServes();
      }),
      { numRuns: 200, seed: Number(process.env['FUZZ_SEED'] ?? Date.now() % 2 ** 31), endOnFailure: true },
    );
    expect(runs).toBe(200);
    await stillServes();
  });
});
