import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import { RefusalReason, transformer, withExpiry, type Authenticate } from '@herald/server';
import { CONNECTION_PARAMS_HEADER, IDEMPOTENCY_KEY_HEADER } from '@herald/shared/internal';
import {
  answerTo,
  Cleanup,
  errorCodeOf,
  historyBatchUrl,
  metricValue,
  nonReadingGet,
  pollUntil,
  rawSocket,
  request,
  scrape,
  startHardeningServer,
  upgrade,
  upgradeStatus,
  withTimeout,
  type HardeningServer,
  type NonReader,
  type RawSocket,
  type TestUser,
} from '@herald/test-kit';

/**
 * Every refusal of the request gate (transport/gate.ts) through every door:
 * the WebSocket, the HTTP fallback (calls and event streams) and the admin
 * socket and API, on Herald's own server and attached to an app's. `Record<RefusalReason, …>` makes a new reason fail to
 * compile until it has a row; a door where a reason cannot arise says why.
 * Where one caller uses two doors, the row shows both draw on one count.
 */

const ADMIN_TOKEN = 'admin-secret';

/**
 * `user` names the caller (`nobody` is refused); `expiresInMs` gives its
 * credentials an expiry, `issuedAt` the time they were issued.
 */
const authenticate: Authenticate<TestUser> = (params) => {
  const user = params?.['user'];
  if (!user) return null;
  if (user === 'nobody') throw new TRPCError({ code: 'UNAUTHORIZED', message: 'nobody may sign in' });
  const { expiresInMs, issuedAt } = params;
  if (expiresInMs === undefined && issuedAt === undefined) return { id: user };
  return withExpiry({ id: user }, Date.now() + Number(expiresInMs ?? 60_000), issuedAt === undefined ? {} : { issuedAt: Number(issuedAt) });
};

interface Door {
  readonly server: HardeningServer;
  /** The app's WebSocket URL, the HTTP prefix, the admin socket's URL and the admin API's. */
  readonly ws: string;
  readonly http: string;
  readonly adminWs: string;
  readonly adminApi: string;
}

type Cell = ((door: Door) => Promise<void>) | { readonly notApplicable: string };

interface Row {
  readonly limits?: Parameters<typeof startHardeningServer>[0] extends infer O ? (O extends { limits?: infer L } ? L : never) : never;
  readonly options?: Omit<NonNullable<Parameters<typeof startHardeningServer>[0]>, 'limits'>;
  readonly websocket: Cell;
  readonly http: Cell;
  /** The HTTP door through the fetch handler, in a Hono app on `@hono/node-server`: the `http` cell unless the row says otherwise. */
  readonly fetch?: Cell;
  readonly admin: Cell;
}

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function start(row: Row, attached: boolean | 'hono'): Promise<Door> {
  const served = cleanup.add(
    await startHardeningServer({
      attached,
      authenticate,
      admin: { authenticate: (token) => token === ADMIN_TOKEN },
      ...row.options,
      limits: { ...row.limits },
    }),
  );
  const { server } = served;
  const base = server.url.replace(/\/ws$/, '');
  return { server: served, ws: server.url, http: `${server.httpUrl}/trpc`, adminWs: `${base}/admin/ws`, adminApi: `${server.httpUrl}/admin/api/cluster` };
}

/** A raw socket closed at cleanup. */
function socket(url: string, params?: Record<string, string>): RawSocket {
  const opened = rawSocket(url, params ? { params } : {});
  cleanup.defer(() => opened.close());
  return opened;
}

/** A socket that is admitted (it answered a call). */
async function admitted(url: string, params?: Record<string, string>, path: 'whoami' | 'lookup' = 'whoami'): Promise<RawSocket> {
  const held = socket(url, params);
  held.send(request('ready', 'query', path, path === 'lookup' ? { query: 'x' } : undefined));
  await held.frame(answerTo('ready'), 5_000, 'the socket to be admitted');
  return held;
}

const closeCodeOf = async (opened: RawSocket) => (await withTimeout(opened.closed, 5_000, 'the close')).code;

const paramsHeader = (params: Record<string, string>) => ({ [CONNECTION_PARAMS_HEADER]: encodeURIComponent(JSON.stringify(params)) });
const addUrl = (http: string) => `${http}/add?input=${encodeURIComponent(JSON.stringify(transformer.serialize({ a: 1, b: 2 })))}`;
const streamUrl = (http: string, stream = 's') => `${http}/numbers?input=${encodeURIComponent(JSON.stringify(transformer.serialize({ stream })))}`;

/** An HTTP call's status and Herald code. */
async function call(url: string, init: RequestInit = {}): Promise<{ status: number; heraldCode: string | null }> {
  const response = await fetch(url, init);
  const body = (await response.json()) as { error?: { json?: { data?: { heraldCode?: string | null } } } };
  return { status: response.status, heraldCode: body.error?.json?.data?.heraldCode ?? null };
}

/**
 * An event stream: its status, and once it is live or refused, the Herald
 * code of its error event (null when it went live). A live stream stays open
 * (closed at cleanup) and holds its connection slot.
 */
async function stream(url: string, headers: Record<string, string> = {}): Promise<{ status: number; heraldCode: string | null; ended: Promise<void> }> {
  const controller = new AbortController();
  cleanup.defer(() => controller.abort());
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
    const body = (await response.json()) as { error?: { json?: { data?: { heraldCode?: string } } } };
    return { status: response.status, heraldCode: body.error?.json?.data?.heraldCode ?? null, ended: Promise.resolve() };
  }
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  let ended!: () => void;
  const end = new Promise<void>((resolve) => (ended = resolve));
  for (;;) {
    const { value, done } = await withTimeout(reader.read(), 5_000, 'the stream to go live or be refused');
    if (done) break;
    text += value;
    const error = /event: serialized-error\ndata: (.*)\n/.exec(text);
    if (error) {
      const shape = transformer.deserialize(JSON.parse(error[1]!) as never) as { data?: { heraldCode?: string } };
      return { status: response.status, heraldCode: shape.data?.heraldCode ?? null, ended: Promise.resolve() };
    }
    if (/"type":"live"/.test(text)) break;
  }
  void (async () => {
    try {
      while (!(await reader.read()).done);
    } catch {
      // aborted
    }
    ended();
  })();
  return { status: response.status, heraldCode: null, ended: end };
}

/** The answer a socket gets for `id`: its error's Herald code (its tRPC code when it has none), null for a result. */
async function refusedCall(
  opened: RawSocket,
  id: string,
  method: 'query' | 'subscription',
  path: string,
  input?: unknown,
  serialized?: unknown,
): Promise<string | null> {
  opened.send(serialized === undefined ? request(id, method, path, input) : { id, method, params: { path, input: serialized } });
  return errorCodeOf(await opened.frame(answerTo(id), 5_000, `the answer to ${id}`));
}

/** `count` messages of 60,000 characters in the stream `big` (a `history` of 64 of them is 3.8 MB). */
async function publishBig({ app }: HardeningServer, count: number): Promise<void> {
  for (let n = 0; n < count; n++) await app.numbers.publish('big', { n, pad: 'x'.repeat(60_000) });
}

/** A client that asks for `url` and stops reading once its status line came, destroyed at cleanup. */
function nonReader(url: string): NonReader {
  const client = nonReadingGet(url);
  cleanup.defer(() => client.socket.destroy());
  return client;
}

/** An input with a BigInt of 2,000 digits, as superjson writes it. */
const HUGE_BIGINT = { json: { a: '1'.repeat(2_000), b: 1 }, meta: { values: { a: ['bigint'] }, v: 1 } };

/** Arrays nested `depth` deep. */
function nested(depth: number): unknown {
  let value: unknown = [];
  for (let level = 1; level < depth; level++) value = [value];
  return value;
}

/** The HTTP call limits' admin cell: the admin page has no HTTP calls to limit. */
const ADMIN_HAS_NO_HTTP_CALLS = { notApplicable: 'the admin page calls over its socket; its API answers from figures the node already holds' } as const;

const table: Record<RefusalReason, Row> = {
  [RefusalReason.ORIGIN]: {
    options: { allowedOrigins: ['https://app.example'] },
    websocket: async ({ ws }) => {
      expect(await upgradeStatus(ws, { origin: 'https://evil.example' })).toBe(403);
      expect(await upgradeStatus(ws, { origin: 'https://app.example' })).toBe(101);
    },
    http: async ({ http }) => {
      expect(await call(addUrl(http), { headers: { origin: 'https://evil.example' } })).toEqual({ status: 403, heraldCode: 'FORBIDDEN' });
      expect((await fetch(addUrl(http), { headers: { origin: 'https://app.example' } })).status).toBe(200);
    },
    admin: { notApplicable: "the admin page's token travels in its connection params, never in a cookie, so no other origin can use it unasked" },
  },
  [RefusalReason.DRAINING]: {
    options: { drainTimeoutMs: 10_000 },
    websocket: async (door) => {
      await draining(door);
      expect(await upgradeStatus(door.ws)).toBe(503);
    },
    http: async (door) => {
      await draining(door);
      expect(await call(addUrl(door.http))).toEqual({ status: 503, heraldCode: 'SERVER_CLOSING' });
    },
    admin: { notApplicable: 'the admin page stays reachable while its node drains, so an operator can watch the drain' },
  },
  [RefusalReason.AUTH_FAILURES]: {
    options: { auth: { failedAttempts: { perSecond: 0.001, burst: 1 } } },
    websocket: async ({ ws, http }) => {
      expect(await closeCodeOf(socket(ws, { user: 'nobody' }))).toBe(4001);
      expect(await upgradeStatus(ws)).toBe(429);
      // One budget for the address on every door.
      expect(await call(addUrl(http))).toEqual({ status: 429, heraldCode: 'LIMIT_EXCEEDED' });
    },
    http: async ({ ws, http }) => {
      expect(await call(addUrl(http), { headers: paramsHeader({ user: 'nobody' }) })).toEqual({ status: 401, heraldCode: 'UNAUTHORIZED' });
      expect(await call(addUrl(http))).toEqual({ status: 429, heraldCode: 'LIMIT_EXCEEDED' });
      expect(await upgradeStatus(ws)).toBe(429);
    },
    admin: async ({ adminWs, adminApi }) => {
      expect(await closeCodeOf(socket(adminWs, { token: 'wrong' }))).toBe(4001);
      expect(await upgradeStatus(adminWs)).toBe(429);
      expect((await fetch(adminApi, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(429);
    },
  },
  [RefusalReason.MAX_CONNECTIONS]: {
    limits: { maxConnections: 1 },
    websocket: async ({ ws }) => {
      await admitted(ws);
      expect(await upgradeStatus(ws)).toBe(503);
    },
    http: async ({ ws, http }) => {
      await admitted(ws);
      expect((await stream(streamUrl(http))).heraldCode).toBe('LIMIT_EXCEEDED');
    },
    admin: async ({ adminWs }) => {
      await admitted(adminWs, { token: ADMIN_TOKEN }, 'lookup');
      expect(await upgradeStatus(adminWs)).toBe(503);
    },
  },
  [RefusalReason.MAX_CONNECTIONS_PER_IP]: {
    limits: { maxConnectionsPerIp: 1 },
    websocket: async ({ ws, http }) => {
      // An event stream holds the address's one slot: no WebSocket besides it.
      expect((await stream(streamUrl(http))).heraldCode).toBeNull();
      expect(await upgradeStatus(ws)).toBe(429);
    },
    http: async ({ ws, http }) => {
      await admitted(ws);
      expect((await stream(streamUrl(http))).heraldCode).toBe('LIMIT_EXCEEDED');
      // Calls hold no connection.
      expect((await fetch(addUrl(http))).status).toBe(200);
    },
    admin: async ({ adminWs }) => {
      await admitted(adminWs, { token: ADMIN_TOKEN }, 'lookup');
      expect(await upgradeStatus(adminWs)).toBe(429);
    },
  },
  [RefusalReason.MAX_CONNECTIONS_PER_USER]: {
    limits: { maxConnectionsPerUser: 1 },
    websocket: async ({ ws, http }) => {
      expect((await stream(streamUrl(http), paramsHeader({ user: 'ann' }))).heraldCode).toBeNull();
      expect(await closeCodeOf(socket(ws, { user: 'ann' }))).toBe(4003);
    },
    http: async ({ ws, http }) => {
      await admitted(ws, { user: 'ann' });
      // Keyed by the authenticated user, never by the params text.
      expect((await stream(streamUrl(http), paramsHeader({ user: 'ann', junk: 'x' }))).heraldCode).toBe('LIMIT_EXCEEDED');
      expect((await stream(streamUrl(http), paramsHeader({ user: 'bob' }))).heraldCode).toBeNull();
    },
    admin: { notApplicable: 'admin connections have no user (the admin token is one operator role); they are bounded per address' },
  },
  [RefusalReason.RATE]: {
    limits: { rate: { perSecond: 0.001, burst: 2 } },
    websocket: async ({ ws, http }) => {
      const headers = paramsHeader({ user: 'ann' });
      expect((await fetch(`${http}/add,add?batch=1&input=${encodeURIComponent(JSON.stringify({ 0: transformer.serialize({ a: 1, b: 1 }), 1: transformer.serialize({ a: 1, b: 1 }) }))}`, { headers })).status).toBe(200);
      // The user spent its budget over HTTP: its WebSocket has none left.
      expect(await refusedCall(await connected(ws, { user: 'ann' }), 'r1', 'query', 'add', { a: 1, b: 1 })).toBe('LIMIT_EXCEEDED');
    },
    http: async ({ ws, http }) => {
      const ann = await connected(ws, { user: 'ann' });
      for (const id of ['a', 'b']) {
        ann.send(request(id, 'query', 'add', { a: 1, b: 1 }));
        await ann.frame(answerTo(id));
      }
      expect(await call(addUrl(http), { headers: paramsHeader({ user: 'ann' }) })).toEqual({ status: 429, heraldCode: 'LIMIT_EXCEEDED' });
      expect((await fetch(addUrl(http), { headers: paramsHeader({ user: 'bob' }) })).status).toBe(200);
    },
    admin: async ({ adminWs }) => {
      const admin = await connected(adminWs, { token: ADMIN_TOKEN });
      for (const id of ['a', 'b']) await refusedCall(admin, id, 'query', 'lookup', { query: 'x' });
      expect(await refusedCall(admin, 'c', 'query', 'lookup', { query: 'x' })).toBe('LIMIT_EXCEEDED');
    },
  },
  [RefusalReason.MAX_BATCH_SIZE]: {
    limits: { maxBatchSize: 2 },
    websocket: async ({ ws }) => {
      const opened = await connected(ws);
      opened.send([1, 2, 3].map((id) => request(id, 'query', 'add', { a: 1, b: 1 })));
      for (const id of [1, 2, 3]) expect(errorCodeOf(await opened.frame(answerTo(id)))).toBe('LIMIT_EXCEEDED');
    },
    http: async ({ http }) => {
      expect((await fetch(`${http}/add,add,add?batch=1&input=${encodeURIComponent('{}')}`)).status).toBe(429);
    },
    admin: async ({ adminWs }) => {
      const admin = await connected(adminWs, { token: ADMIN_TOKEN });
      admin.send([1, 2, 3].map((id) => request(id, 'query', 'lookup', { query: 'x' })));
      expect(errorCodeOf(await admin.frame(answerTo(3)))).toBe('LIMIT_EXCEEDED');
    },
  },
  [RefusalReason.MAX_SUBSCRIPTIONS]: {
    limits: { maxSubscriptionsPerConnection: 1 },
    websocket: async ({ ws }) => {
      const opened = await connected(ws);
      opened.send(request('s1', 'subscription', 'numbers', { stream: 'a' }));
      await opened.frame(answerTo('s1'));
      expect(await refusedCall(opened, 's2', 'subscription', 'numbers', { stream: 'b' })).toBe('LIMIT_EXCEEDED');
    },
    http: { notApplicable: 'an event stream carries one subscription; streams are bounded as connections (per address, per user)' },
    admin: async ({ adminWs }) => {
      const admin = await connected(adminWs, { token: ADMIN_TOKEN });
      admin.send(request('s1', 'subscription', 'cluster'));
      await admin.frame(answerTo('s1'));
      expect(await refusedCall(admin, 's2', 'subscription', 'cluster')).toBe('LIMIT_EXCEEDED');
    },
  },
  [RefusalReason.MAX_HTTP_CALLS_PER_IP]: {
    limits: { maxHttpCallsPerIp: 2 },
    websocket: { notApplicable: "a socket's calls are bounded by the request budget, and its answers by maxBufferedBytes" },
    http: async ({ http, server }) => {
      const slow = (name: string) =>
        fetch(`${http}/slow`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(transformer.serialize({ name })) });
      const held = [slow('h1'), slow('h2')];
      await Promise.all([server.app.gates.entered('h1'), server.app.gates.entered('h2')]);
      expect(await call(addUrl(http))).toEqual({ status: 429, heraldCode: 'LIMIT_EXCEEDED' });
      server.app.gates.open('h1');
      server.app.gates.open('h2');
      expect((await Promise.all(held)).map((response) => response.status)).toEqual([200, 200]);
      expect((await fetch(addUrl(http))).status).toBe(200);
    },
    admin: ADMIN_HAS_NO_HTTP_CALLS,
  },
  [RefusalReason.MAX_HTTP_ANSWER]: {
    limits: { maxHttpAnswerBytes: 200_000 },
    websocket: { notApplicable: "a socket's answers go out one call at a time, each bounded by maxBufferedBytes" },
    http: async ({ http, server }) => {
      await publishBig(server, 4);
      const history = historyBatchUrl(http, 'big', 1);
      const refused = await fetch(history);
      expect(refused.status).toBe(413);
      expect(await refused.text()).toMatch(/maxHttpAnswerBytes.*smaller batches.*httpBatchStreamLink/);
      // What the refusal advises: the same batch streamed call by call is served.
      const streamed = await fetch(history, { headers: { 'trpc-accept': 'application/jsonl' } });
      expect(streamed.status).toBe(200);
      expect((await streamed.text()).length).toBeGreaterThan(240_000);
      expect((await fetch(addUrl(http))).status).toBe(200);
    },
    admin: ADMIN_HAS_NO_HTTP_CALLS,
  },
  [RefusalReason.MAX_HTTP_ANSWER_BYTES_PER_IP]: {
    limits: { maxHttpAnswerBytesPerIp: 8_000_000 },
    websocket: { notApplicable: 'a socket that stops reading is closed with 4002 (slow_consumer) once maxBufferedBytes are queued for it' },
    http: async ({ http, server }) => {
      await publishBig(server, 64);
      // A client that asks for 7.7 MB (more than the kernel's socket buffers) and does not read: its address holds that much.
      const tcp = nonReader(historyBatchUrl(http, 'big', 2));
      expect(await tcp.status).toBe('200');
      const refused = await fetch(historyBatchUrl(http, 'big', 1));
      expect(refused.status).toBe(429);
      expect(await refused.text()).toMatch(/maxHttpAnswerBytesPerIp.*read the answers asked for/);
      // Once it goes, its answer is given back.
      tcp.socket.destroy();
      await pollUntil(async () => (await fetch(historyBatchUrl(http, 'big', 1))).status, 'the answer to be given back', { accept: (status) => status === 200 });
    },
    admin: ADMIN_HAS_NO_HTTP_CALLS,
  },
  [RefusalReason.SLOW_HTTP_CLIENT]: {
    limits: { httpWriteTimeoutMs: 200, maxBufferedBytes: 65_536, maxHttpAnswerBytes: 67_108_864, maxHttpAnswerBytesPerIp: 67_108_864 },
    websocket: { notApplicable: 'a socket that stops reading is closed with 4002 (slow_consumer) once maxBufferedBytes are queued for it' },
    http: async ({ http, server }) => {
      await publishBig(server, 64);
      // A client that asks for 30 MB (more than the kernel's socket buffers) and never reads: dropped once its answer is not taken in time.
      const { port } = new URL(http);
      const tcp = connect(Number(port), '127.0.0.1');
      cleanup.defer(() => tcp.destroy());
      const calls = 8;
      const one = transformer.serialize({ stream: 'big' });
      const input = encodeURIComponent(JSON.stringify(Object.fromEntries(Array.from({ length: calls }, (_, index) => [index, one]))));
      tcp.write(`GET /trpc/${Array(calls).fill('history').join(',')}?batch=1&input=${input} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      tcp.pause();
      // Nothing tells the paused client: the server's count says it dropped it.
      await pollUntil(async () => metricValue(await scrape(server.server), 'herald_refusals_total', { reason: 'slow_http_client' }), 'the slow client to be dropped', {
        accept: (count) => count >= 1,
      });
    },
    admin: { notApplicable: 'the admin page has no HTTP answer that grows with data' },
  },
  [RefusalReason.IDEMPOTENCY_RECORDS]: {
    options: { idempotency: { maxRecordsPerCaller: 2 } },
    websocket: async ({ ws }) => {
      const ann = await connected(ws, { user: 'ann' });
      const keyed = (id: string) => ({ id, method: 'mutation', params: { path: 'publish', input: transformer.serialize({ stream: 'k', n: 1 }), idempotencyKey: `key-${id}` } });
      for (const id of ['a', 'b']) expect(errorCodeOf(await answerOf(ann, keyed(id)))).toBeNull();
      expect(errorCodeOf(await answerOf(ann, keyed('c')))).toBe('LIMIT_EXCEEDED');
      // A repeat of a key it holds is still answered: the bound is on new records.
      expect(errorCodeOf(await answerOf(ann, keyed('a')))).toBeNull();
    },
    http: async ({ http }) => {
      const post = (key: string) =>
        call(`${http}/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [IDEMPOTENCY_KEY_HEADER]: key, ...paramsHeader({ user: 'bob' }) },
          body: JSON.stringify(transformer.serialize({ stream: 'k', n: 1 })),
        });
      expect((await post('a')).status).toBe(200);
      expect((await post('b')).status).toBe(200);
      expect(await post('c')).toEqual({ status: 429, heraldCode: 'LIMIT_EXCEEDED' });
    },
    admin: { notApplicable: "the admin page's one mutation, revoke, is an operator's, not a caller's to flood" },
  },
  [RefusalReason.INPUT_LIMITS]: {
    websocket: async ({ ws }) => {
      expect(await refusedCall(await connected(ws), 'big', 'query', 'add', undefined, HUGE_BIGINT)).toBe('BAD_REQUEST');
    },
    http: async ({ http }) => {
      expect((await call(`${http}/add?input=${encodeURIComponent(JSON.stringify(HUGE_BIGINT))}`)).status).toBe(400);
    },
    admin: async ({ adminWs }) => {
      const admin = await connected(adminWs, { token: ADMIN_TOKEN });
      expect(await refusedCall(admin, 'deep', 'query', 'lookup', undefined, { json: nested(500) })).toBe('BAD_REQUEST');
    },
  },
  [RefusalReason.MAX_PAYLOAD]: {
    limits: { maxPayloadBytes: 1_024 },
    websocket: async ({ ws }) => {
      const opened = await connected(ws);
      opened.send(request('big', 'query', 'add', { a: 1, b: 1, pad: 'x'.repeat(2_000) }));
      expect(await closeCodeOf(opened)).toBe(1009);
    },
    http: async ({ http }) => {
      const body = JSON.stringify(transformer.serialize({ n: 1, stream: 's', pad: 'x'.repeat(2_000) }));
      expect((await fetch(`${http}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status).toBe(413);
    },
    admin: async ({ adminWs }) => {
      const admin = await connected(adminWs, { token: ADMIN_TOKEN });
      admin.send(request('big', 'query', 'lookup', { query: 'x'.repeat(2_000) }));
      expect(await closeCodeOf(admin)).toBe(1009);
    },
  },
  [RefusalReason.UNAUTHORIZED]: {
    websocket: async ({ ws }) => {
      expect(await closeCodeOf(socket(ws, { user: 'nobody' }))).toBe(4001);
    },
    http: async ({ http }) => {
      expect(await call(addUrl(http), { headers: paramsHeader({ user: 'nobody' }) })).toEqual({ status: 401, heraldCode: 'UNAUTHORIZED' });
      expect((await stream(streamUrl(http), paramsHeader({ user: 'nobody' }))).heraldCode).toBe('UNAUTHORIZED');
    },
    admin: async ({ adminWs, adminApi }) => {
      expect(await closeCodeOf(socket(adminWs, { token: 'wrong' }))).toBe(4001);
      expect((await fetch(adminApi, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    },
  },
  [RefusalReason.TOKEN_EXPIRED]: {
    options: { auth: { expiryGraceMs: 0 } },
    websocket: async ({ ws }) => {
      expect(await closeCodeOf(socket(ws, { user: 'ann', expiresInMs: '-1' }))).toBe(4005);
    },
    http: async ({ http }) => {
      expect(await call(addUrl(http), { headers: paramsHeader({ user: 'ann', expiresInMs: '-1' }) })).toEqual({ status: 401, heraldCode: 'TOKEN_EXPIRED' });
    },
    admin: { notApplicable: 'the admin token does not expire: admin.authenticate answers yes or no' },
  },
  [RefusalReason.REFRESH_REFUSED]: {
    websocket: async ({ ws }) => {
      const ann = await connected(ws, { user: 'ann', expiresInMs: '60000' });
      ann.send({ method: 'connectionParams', data: { user: 'bob', expiresInMs: '60000' } });
      expect(await ann.frame((frame) => (frame as { params?: { refused?: unknown } }).params?.refused !== undefined)).toMatchObject({
        params: { refused: { heraldCode: 'UNAUTHORIZED', message: expect.stringMatching(/must keep the connection's user/) } },
      });
    },
    http: { notApplicable: 'every HTTP request carries its own credentials: there is no in-band refresh to refuse' },
    admin: async ({ adminWs }) => {
      const admin = await connected(adminWs, { token: ADMIN_TOKEN });
      admin.send({ method: 'connectionParams', data: { token: ADMIN_TOKEN } });
      expect(await admin.frame((frame) => (frame as { params?: { refused?: unknown } }).params?.refused !== undefined)).toMatchObject({
        params: { refused: { message: expect.stringMatching(/do not expire/) } },
      });
    },
  },
  [RefusalReason.REVOKED]: {
    websocket: async ({ ws, server }) => {
      const issued = { user: 'ann', issuedAt: String(Date.now() - 1_000) };
      const ann = await admitted(ws, issued);
      await server.server.disconnectUser('ann');
      expect(await closeCodeOf(ann)).toBe(4006);
      // The revocation lasts: the same credentials are refused, fresh ones (issued after it) are let in.
      expect(await closeCodeOf(socket(ws, issued))).toBe(4006);
      await admitted(ws, { user: 'ann', issuedAt: String(Date.now() + 1) });
    },
    http: async ({ http, server }) => {
      const issued = paramsHeader({ user: 'ann', issuedAt: String(Date.now() - 1_000) });
      const opened = await stream(streamUrl(http), issued);
      await server.server.disconnectUser('ann');
      await withTimeout(opened.ended, 5_000, 'the stream to end');
      expect(await call(addUrl(http), { headers: issued })).toEqual({ status: 401, heraldCode: 'UNAUTHORIZED' });
      expect((await fetch(addUrl(http), { headers: paramsHeader({ user: 'ann', issuedAt: String(Date.now() + 1) }) })).status).toBe(200);
    },
    admin: { notApplicable: 'admin connections have no user to revoke' },
  },
  [RefusalReason.STREAM_TICKET]: {
    websocket: { notApplicable: 'a ticket stands in for credentials on an event stream only' },
    http: async ({ http }) => {
      expect((await stream(`${streamUrl(http)}&ticket=${'A'.repeat(43)}`)).status).toBe(401);
    },
    admin: { notApplicable: 'a ticket stands in for credentials on an event stream only' },
  },
  [RefusalReason.CONNECTION_PARAMS_TIMEOUT]: {
    limits: { connectionParamsTimeoutMs: 100 },
    websocket: async ({ ws }) => {
      const { socket: silent } = await upgrade(`${ws}?connectionParams=1`);
      cleanup.defer(() => silent.terminate());
      expect(await new Promise<number>((resolve) => silent.once('close', resolve))).toBe(4001);
    },
    http: { notApplicable: 'HTTP requests carry their credentials in their headers' },
    admin: async ({ adminWs }) => {
      const { socket: silent } = await upgrade(`${adminWs}?connectionParams=1`);
      cleanup.defer(() => silent.terminate());
      expect(await new Promise<number>((resolve) => silent.once('close', resolve))).toBe(4001);
    },
  },
};

/** A socket that is open (admitted once its first call answers; refusals of one request keep it open). */
async function connected(url: string, params?: Record<string, string>): Promise<RawSocket> {
  const opened = socket(url, params);
  await withTimeout(opened.opened, 5_000, 'the socket to open');
  return opened;
}

/** Sends `frame` and resolves with its answer. */
async function answerOf(opened: RawSocket, frame: { id: string }): Promise<unknown> {
  opened.send(frame);
  return opened.frame(answerTo(frame.id), 5_000, `the answer to ${frame.id}`);
}

/** Starts closing the server while a call holds its drain open; the drain ends at cleanup. */
async function draining({ server, ws }: Door): Promise<void> {
  const holder = await connected(ws);
  holder.send(request('hold', 'query', 'whoami'));
  await holder.frame(answerTo('hold'));
  holder.send({ id: 'slow', method: 'mutation', params: { path: 'slow', input: { json: { name: 'hold' } } } });
  await server.app.gates.entered('hold');
  const closing = server.server.close();
  cleanup.defer(async () => {
    server.app.gates.open('hold');
    await closing;
  });
}

// Each door twice: on Herald's own server, and attached to an app's (`attachHerald`), which must change nothing.
// The fetch door runs on a Hono app (`startHonoFetch`): its HTTP cells through the fetch handler.
for (const attached of [false, true, 'hono'] as const) {
  const doors = attached === 'hono' ? (['fetch'] as const) : (['websocket', 'http', 'admin'] as const);
  describe(`the request gate, through every door${attached === 'hono' ? ', the fetch handler in a Hono app' : attached ? ', attached to an app server' : ''}`, () => {
    for (const [reason, row] of Object.entries(table) as [RefusalReason, Row][]) {
      for (const door of doors) {
        const cell = door === 'fetch' ? (row.fetch ?? row.http) : row[door];
        // A door where the reason cannot arise says why in the table, and runs nothing.
        if ('notApplicable' in cell) continue;
        it(`${reason} on the ${door} door`, async () => {
          const started = await start(row, attached);
          await cell(started);
          // The app's doors count each refusal by reason (the admin socket keeps figures of its own).
          if (door !== 'admin') expect(metricValue(await scrape(started.server.server), 'herald_refusals_total', { reason })).toBeGreaterThanOrEqual(1);
        });
      }
    }
  });
}
