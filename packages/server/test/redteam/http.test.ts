import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { transformer, type Authenticate } from '@herald/server';
import { CONNECTION_PARAMS_HEADER, IDEMPOTENCY_KEY_HEADER } from '@herald/shared/internal';
import {
  Cleanup,
  heapAfterGc,
  historyBatchUrl,
  metricValue,
  nonReadingGet,
  pollUntil,
  scrape,
  startHardeningServer,
  type HardeningServer,
  type NonReader,
  type TestUser,
} from '@herald/test-kit';

/**
 * What a red team found on the HTTP door, each reproduced as an attacker
 * would send it (plain fetch, no client library), on the hardening app with
 * the production defaults but where a finding needs a smaller number.
 * The WebSocket door's findings are in websocket.test.ts; memory and CPU
 * figures are in the bench's abuse scenario.
 */

const authenticate: Authenticate<TestUser> = (params) => (params?.['user'] ? { id: params['user'] } : null);

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

type Options = NonNullable<Parameters<typeof startHardeningServer>[0]>;

async function start(options: Options = {}): Promise<{ server: HardeningServer; http: string; lines: Record<string, unknown>[] }> {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const server = cleanup.add(await startHardeningServer({ authenticate, logger, ...options }));
  return { server, http: `${server.server.httpUrl}/trpc`, lines };
}

const as = (user: string, extra: Record<string, string> = {}) => ({ [CONNECTION_PARAMS_HEADER]: encodeURIComponent(JSON.stringify({ user, ...extra })) });
const query = (http: string, path: string, input: unknown) => `${http}/${path}?input=${encodeURIComponent(JSON.stringify(input))}`;
const publishBody = (stream: string, n: number) => JSON.stringify(transformer.serialize({ stream, n }));

/** 64 messages of 60,000 characters in the stream `big`: one `history` answer is 3.8 MB. */
async function fillBig(server: HardeningServer): Promise<void> {
  for (let n = 0; n < 64; n++) await server.app.numbers.publish('big', { n, pad: 'x'.repeat(60_000) });
}

/** A client that asks for `url` and stops reading once its status line came, destroyed at cleanup. */
function nonReader(url: string): NonReader {
  const client = nonReadingGet(url);
  cleanup.defer(() => client.socket.destroy());
  return client;
}

async function refusals(server: HardeningServer, reason: string): Promise<number> {
  return metricValue(await scrape(server.server), 'herald_refusals_total', { reason });
}

describe('red team: the HTTP door', () => {
  it('spends one request budget per user, whichever door and however the params are dressed', async () => {
    const { server, http } = await start({ limits: { rate: { perSecond: 0.001, burst: 20 } } });
    const statuses: number[] = [];
    for (let n = 0; n < 25; n++) {
      const response = await fetch(`${http}/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...as('ann', { junk: String(n) }) },
        body: publishBody('budget', n),
      });
      statuses.push(response.status);
    }
    expect(statuses.filter((status) => status === 200)).toHaveLength(20);
    expect(statuses.filter((status) => status === 429)).toHaveLength(5);
    expect((await server.app.numbers.history('budget')).messages).toHaveLength(20);
  });

  it('holds event streams to the user connection cap, not one per params text', async () => {
    const { http } = await start({ limits: { maxConnectionsPerUser: 3 } });
    const controllers: AbortController[] = [];
    cleanup.defer(() => controllers.forEach((controller) => controller.abort()));
    const outcomes: string[] = [];
    for (let n = 0; n < 6; n++) {
      const controller = new AbortController();
      controllers.push(controller);
      const response = await fetch(query(http, 'numbers', transformer.serialize({ stream: 's' })), {
        headers: { accept: 'text/event-stream', ...as('ann', { junk: String(n) }) },
        signal: controller.signal,
      });
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      while (!/"type":"live"|serialized-error/.test(text)) text += (await reader.read()).value ?? '';
      outcomes.push(text.includes('serialized-error') ? 'refused' : 'live');
    }
    expect(outcomes).toEqual(['live', 'live', 'live', 'refused', 'refused', 'refused']);
  });

  it('builds no answer too large for one request: ten clients asking for big batches and never reading are refused at once', async () => {
    // Production defaults: one answer may be 8 MiB; each batch asks for 30 MB.
    const { server, http } = await start();
    await fillBig(server);
    const before = await heapAfterGc();
    const statuses = await Promise.all(Array.from({ length: 10 }, () => nonReader(historyBatchUrl(http, 'big', 8)).status));
    expect(statuses.filter((status) => status !== '413' && status !== '429')).toEqual([]);
    expect(await refusals(server, 'max_http_answer')).toBeGreaterThanOrEqual(1);
    // Their sockets still open, nothing of the batches they asked for is held (each is 8 × 3.8 MB of results).
    expect((await heapAfterGc()) - before).toBeLessThan(16_000_000);
    const refused = await fetch(historyBatchUrl(http, 'big', 8));
    expect(refused.status).toBe(413);
    expect(await refused.text()).toMatch(/at most 8388608 bytes \(maxHttpAnswerBytes\); ask for less in one request \(smaller batches\), or use httpBatchStreamLink/);
    expect((await fetch(`${server.server.httpUrl}/healthz`)).status).toBe(200);
    expect((await fetch(historyBatchUrl(http, 'big', 1))).status).toBe(200);
  });

  it('runs no more of a batch than one answer may carry: the calls past it are refused without running', async () => {
    // Every history read is seen by `authorize`: the calls that ran, by stream.
    const reads: Record<string, number> = {};
    const authorize = ({ key, action }: { key: string; action: string }) => {
      if (action === 'subscribe') reads[key] = (reads[key] ?? 0) + 1;
      return true;
    };
    const server = cleanup.add(await startHardeningServer({ authenticate }, { authorize }));
    const http = `${server.server.httpUrl}/trpc`;
    await fillBig(server);
    await server.app.numbers.publish('small', { n: 1 });
    // 100 calls of 3.8 MB each: the answer is past 8 MiB after three of them.
    const refused = await fetch(historyBatchUrl(http, 'big', 100));
    expect(refused.status).toBe(413);
    expect(await refused.text()).toMatch(/maxHttpAnswerBytes/);
    // A few run at once (16), and a few more as the first end; the rest never do.
    expect(reads['big']).toBeLessThanOrEqual(32);
    // A batch whose answer fits runs every call.
    const served = await fetch(historyBatchUrl(http, 'small', 100));
    expect(served.status).toBe(200);
    expect((await served.json()) as unknown[]).toHaveLength(100);
    expect(reads['small']).toBe(100);
  });

  it('holds at most an address’s share of answers its clients do not read, drops them, and gives their bytes back', async () => {
    const { server, http } = await start({ limits: { httpWriteTimeoutMs: 1_000, maxHttpAnswerBytesPerIp: 16_000_000 } });
    await fillBig(server);
    // Ten clients each asking for 7.7 MB (more than the kernel's socket buffers take) and not reading: two answers fit the share.
    const statuses = await Promise.all(Array.from({ length: 10 }, () => nonReader(historyBatchUrl(http, 'big', 2)).status));
    expect(statuses.filter((status) => status === '200').length).toBeLessThanOrEqual(2);
    expect(statuses.filter((status) => status !== '200' && status !== '429')).toEqual([]);
    expect(await refusals(server, 'max_http_answer_bytes_per_ip')).toBeGreaterThanOrEqual(8);
    expect((await fetch(`${server.server.httpUrl}/healthz`)).status).toBe(200);
    // The non-readers are dropped once their answers are not taken in time, and the share is back: a 3.8 MB answer is served.
    await pollUntil(() => refusals(server, 'slow_http_client'), 'the non-readers to be dropped', { accept: (count) => count >= 1 });
    await pollUntil(async () => (await fetch(historyBatchUrl(http, 'big', 1))).status, 'an answer to be served', { accept: (status) => status === 200 });
  });

  it('refuses a reused idempotency key with another input, and never returns one caller’s result to another', async () => {
    const { server, http } = await start();
    const post = (user: string, key: string, stream: string, n: number) =>
      fetch(`${http}/publish`, { method: 'POST', headers: { 'content-type': 'application/json', [IDEMPOTENCY_KEY_HEADER]: key, ...as(user) }, body: publishBody(stream, n) });
    expect((await post('ann', 'K', 'idem', 1)).status).toBe(200);
    const reused = await post('ann', 'K', 'other-room', 2);
    expect(reused.status).toBe(409);
    const stolen = await post('bob', 'K', 'idem', 1);
    expect(stolen.headers.get('idempotent-replayed')).toBeNull();
    expect((await server.app.numbers.history('other-room')).messages).toHaveLength(0);
  });

  it('refuses a BigInt of a million digits before decoding it, and bounds a stream ticket’s params', async () => {
    const { http } = await start();
    const huge = { json: { stream: 's', n: '9'.repeat(1_000_000) }, meta: { values: { n: ['bigint'] }, v: 1 } };
    const answer = await fetch(`${http}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(huge) });
    expect(answer.status).toBe(400);
    expect(await answer.text()).toMatch(/BigInt of more than 1000 digits/);
    const ticket = await fetch(`${http}/_herald/ticket`, { method: 'POST', headers: as('ann', { pad: 'x'.repeat(14_000) }) });
    expect(ticket.status).toBe(429);
    expect(await ticket.text()).toMatch(/over the 4096 a stream ticket holds/);
  });

  it('answers a request without input, or with nesting 100,000 deep, in plain words', async () => {
    const { http } = await start();
    const noInput = await fetch(`${http}/add`);
    expect(noInput.status).toBe(400);
    expect(await noInput.text()).not.toMatch(/Cannot destructure|Maximum call stack/);
    let deep = '[]';
    for (let level = 0; level < 100_000; level++) deep = `[${deep}]`;
    const nested = await fetch(`${http}/echoBytes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"json":{"bytes":[]},"meta":{"values":{"bytes":["custom",${deep}]},"v":1}}`,
    });
    expect(nested.status).toBe(400);
    expect(await nested.text()).toMatch(/nests deeper than 128 levels/);
  });

  it('keeps a revocation: the same credentials stay refused until new ones are issued', async () => {
    const { server, http } = await start();
    expect((await fetch(query(http, 'whoami', {}), { headers: as('ann') })).status).toBe(200);
    await server.server.disconnectUser('ann');
    const refused = await fetch(query(http, 'whoami', {}), { headers: as('ann') });
    expect(refused.status).toBe(401);
    expect(await refused.text()).toMatch(/sessions were revoked; sign in again/);
  });

  it('logs refusals at warn, a flood as one line with a count, and a refused origin once with the fix', async () => {
    const { http, lines } = await start({ allowedOrigins: ['https://app.example'] });
    for (let n = 0; n < 5; n++) await fetch(query(http, 'add', { json: { a: 1, b: 2 } }), { headers: { origin: 'https://evil.example' } });
    const refused = lines.filter((line) => line['event'] === 'request.refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ level: 40, reason: 'origin', origin: 'https://evil.example' });
    const origin = lines.filter((line) => line['event'] === 'origin.refused');
    expect(origin).toHaveLength(1);
    expect(String(origin[0]!['msg'])).toMatch(/allowedOrigins: \['https:\/\/evil.example'\]/);
  });

  it('answers CORS preflights for allowed origins, and gives other origins no CORS header', async () => {
    const { http } = await start({ allowedOrigins: ['https://app.example'] });
    const preflight = (origin: string) =>
      fetch(`${http}/publish`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, idempotency-key, herald-connection-params' },
      });
    const allowed = await preflight('https://app.example');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/idempotency-key.*herald-connection-params/);
    const call = await fetch(query(http, 'add', { json: { a: 1, b: 2 } }), { headers: { origin: 'https://app.example' } });
    expect(call.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const other = await preflight('https://evil.example');
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
