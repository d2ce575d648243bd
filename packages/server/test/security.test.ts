import { createServer, type Server } from 'node:http';
import { get as httpsGet } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { generate } from 'selfsigned';
import { WebSocket, type ClientOptions } from 'ws';
import { createHeraldClient } from '@herald/client';
import { HeraldError, type Authenticate } from '@herald/server';
import { jwtAuthenticator } from '@herald/server/jwt';
import { CloseCode, heraldCodeOf } from '@herald/shared';
import {
  answerTo,
  Cleanup,
  errorCodeOf,
  FAST_BACKOFF,
  metricValue,
  nextError,
  pollUntil,
  rawSocket,
  recordChannel,
  request,
  scrape,
  startHardeningServer,
  trpcErrorOf,
  upgradeStatus,
  withTimeout,
  type HardeningContext,
  type HardeningRouter,
  type TestUser,
} from '@herald/test-kit';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const SECRET = 'a-test-secret-that-is-long-enough-32b';
const secretKey = new TextEncoder().encode(SECRET);

function hsToken(claims: { sub: string; iss?: string; aud?: string; expiresIn?: string; role?: string }): Promise<string> {
  const jwt = new SignJWT(claims.role ? { role: claims.role } : {}).setProtectedHeader({ alg: 'HS256' }).setSubject(claims.sub).setIssuedAt();
  if (claims.iss) jwt.setIssuer(claims.iss);
  if (claims.aud) jwt.setAudience(claims.aud);
  jwt.setExpirationTime(claims.expiresIn ?? '1h');
  return jwt.sign(secretKey);
}

/** What a raw socket connecting with `params` gets: the refusal frame and close, or the answer to `whoami`. */
async function connectAs(url: string, params: Record<string, string> | undefined, options: ClientOptions = {}) {
  const raw = rawSocket(url, { ...options, ...(params ? { params } : {}) });
  cleanup.defer(() => raw.close());
  await raw.opened;
  raw.send(request(1, 'query', 'whoami'));
  const outcome = await Promise.race([
    raw.frame(answerTo(1)).then((frame) => ({ kind: 'answer' as const, frame })),
    raw.closed.then((closed) => ({ kind: 'closed' as const, closed })),
  ]);
  if (outcome.kind === 'answer') {
    const frame = outcome.frame as { result?: { data: { json: unknown } } };
    return { user: frame.result?.data.json ?? null, closed: null, refusal: null };
  }
  const refusal = raw.frames.find(answerTo(null)) as { error: { json: { message: string } } } | undefined;
  return { user: undefined, closed: outcome.closed, refusal: refusal ? { code: errorCodeOf(refusal), message: refusal.error.json.message } : null };
}

describe('authenticate', () => {
  it('gives createContext the user it returns, before any procedure runs', async () => {
    const seen: unknown[] = [];
    const authenticate: Authenticate<TestUser> = async (params, req) => {
      seen.push({ params, ip: 'socket' in req ? req.socket.remoteAddress : null });
      return params?.['token'] === 'good' ? { id: 'ann' } : null;
    };
    const { server } = cleanup.add(await startHardeningServer({ authenticate }));
    expect(await connectAs(server.url, { token: 'good' })).toMatchObject({ user: { id: 'ann' } });
    // No credentials at all: let in anonymously, as `authenticate` decided.
    expect(await connectAs(server.url, undefined)).toMatchObject({ user: null });
    expect(seen).toEqual([
      { params: { token: 'good' }, ip: '127.0.0.1' },
      { params: null, ip: '127.0.0.1' },
    ]);
  });

  it('refuses with an UNAUTHORIZED error frame and close 4001, runs nothing, and counts it', async () => {
    const errors: Error[] = [];
    const authenticate: Authenticate<TestUser> = (params) => {
      if (params?.['token'] === 'revoked') throw new HeraldError('UNAUTHORIZED', 'Token revoked');
      if (params?.['token'] === 'crash') throw new Error('database password is hunter2');
      return { id: 'ann' };
    };
    const { server } = cleanup.add(await startHardeningServer({ authenticate, onError: ({ error }) => errors.push(error) }));

    const revoked = await connectAs(server.url, { token: 'revoked' });
    expect(revoked).toEqual({ user: undefined, closed: { code: CloseCode.UNAUTHORIZED, reason: 'unauthorized' }, refusal: { code: 'UNAUTHORIZED', message: 'Token revoked' } });

    // A crash inside `authenticate` refuses too, without telling the client what broke; the app hears of it.
    const crashed = await connectAs(server.url, { token: 'crash' });
    expect(crashed.refusal).toEqual({ code: 'UNAUTHORIZED', message: 'Authentication failed' });
    expect(crashed.closed?.code).toBe(CloseCode.UNAUTHORIZED);
    expect(errors.map((error) => error.message)).toContain('database password is hunter2');

    expect(metricValue(await scrape(server), 'herald_refusals_total', { reason: 'unauthorized' })).toBe(2);
    expect(await connectAs(server.url, { token: 'fine' })).toMatchObject({ user: { id: 'ann' } });
  });

  it('lets a connectionParams function hand a fresh token to every reconnect (token refresh)', async () => {
    const tokens = ['expired', 'first', 'second'];
    const authenticate: Authenticate<TestUser> = (params) => {
      if (params?.['token'] === 'expired') throw new HeraldError('UNAUTHORIZED', 'token expired');
      return params?.['token'] ? { id: params['token'] } : null;
    };
    const { server } = cleanup.add(await startHardeningServer({ authenticate }));
    let calls = 0;
    const client = createHeraldClient<HardeningRouter>({
      url: server.url,
      backoff: FAST_BACKOFF,
      // Called again on every (re)connect: an app refreshes its token here.
      connectionParams: async () => ({ token: tokens[Math.min(calls++, tokens.length - 1)] as string }),
    });
    cleanup.add(client);
    const closeCodes: (number | null)[] = [];
    client.connection.subscribe((state) => {
      if (state.status === 'reconnecting') closeCodes.push(state.closeCode);
    });
    // The first token is refused (4001); the reconnect asks again and gets the next one.
    expect(await client.trpc.whoami.query()).toEqual({ id: 'first' });
    expect(calls).toBe(2);
    // The app can tell refused credentials from a network loss.
    expect(closeCodes).toEqual([4001]);
    // The server asks every client to reconnect (as a drain does): the new socket carries a new token.
    server.broadcastReconnect();
    await pollUntil(() => client.trpc.whoami.query(), 'the refreshed token', { accept: (user) => user?.id === 'second' });
    expect(calls).toBe(3);
  });
});

describe('jwtAuthenticator', () => {
  async function serverWith(authenticate: Authenticate<TestUser>) {
    return cleanup.add(await startHardeningServer({ authenticate }));
  }
  const toUser = (payload: { sub?: string; role?: unknown }): TestUser => {
    if (!payload.sub) throw new Error('no subject');
    return { id: payload.sub, ...(typeof payload.role === 'string' ? { role: payload.role } : {}) };
  };

  it('verifies HS256 tokens with issuer and audience, and says why it refused one', async () => {
    const { server } = await serverWith(jwtAuthenticator({ secret: SECRET, issuer: 'herald-test', audience: 'numbers', toUser }));
    const good = await hsToken({ sub: 'ann', iss: 'herald-test', aud: 'numbers', role: 'admin' });
    expect(await connectAs(server.url, { token: good })).toMatchObject({ user: { id: 'ann', role: 'admin' } });
    // The same token in an Authorization header works for clients that cannot send connectionParams first.
    expect(await connectAs(server.url, undefined, { headers: { authorization: `Bearer ${good}` } })).toMatchObject({ user: { id: 'ann' } });
    // No token at all: anonymous (the login procedure of an app must be reachable).
    expect(await connectAs(server.url, undefined)).toMatchObject({ user: null });

    const cases: [string, string, RegExp][] = [
      ['garbage', 'not-a-jwt', /token signature or format invalid/],
      ['expired', await hsToken({ sub: 'ann', iss: 'herald-test', aud: 'numbers', expiresIn: '-1h' }), /token expired/],
      ['wrong issuer', await hsToken({ sub: 'ann', iss: 'someone-else', aud: 'numbers' }), /claim "iss"/],
      ['wrong audience', await hsToken({ sub: 'ann', iss: 'herald-test', aud: 'billing' }), /claim "aud"/],
      [
        'other secret',
        await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('ann').setIssuer('herald-test').setAudience('numbers').setExpirationTime('1h').sign(new TextEncoder().encode('x'.repeat(32))),
        /token signature or format invalid/,
      ],
      ['no subject', await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('herald-test').setAudience('numbers').setExpirationTime('1h').sign(secretKey), /names no valid user/],
    ];
    for (const [what, token, message] of cases) {
      const outcome = await connectAs(server.url, { token });
      expect(outcome.closed?.code, what).toBe(CloseCode.UNAUTHORIZED);
      expect(outcome.refusal?.code, what).toBe('UNAUTHORIZED');
      expect(outcome.refusal?.message, what).toMatch(message);
    }
  });

  it('refuses connections without a token when required', async () => {
    const { server } = await serverWith(jwtAuthenticator({ secret: SECRET, required: true, toUser }));
    const outcome = await connectAs(server.url, undefined);
    expect(outcome.closed?.code).toBe(CloseCode.UNAUTHORIZED);
    expect(outcome.refusal?.message).toMatch(/No token/);
  });

  it('rejects a secret shorter than 32 bytes', () => {
    expect(() => jwtAuthenticator({ secret: 'short' })).toThrow(/at least 32 bytes/);
  });

  it('verifies against a local JWKS, and against a remote one it fetches', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const sign = (key: CryptoKey, kid: string) =>
      new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid }).setSubject('bob').setIssuer('https://id.test').setExpirationTime('1h').sign(key);

    const local = await serverWith(jwtAuthenticator({ jwks: { keys: [jwk] }, issuer: 'https://id.test', toUser }));
    expect(await connectAs(local.server.url, { token: await sign(privateKey, 'k1') })).toMatchObject({ user: { id: 'bob' } });
    const forged = await connectAs(local.server.url, { token: await sign(other.privateKey, 'k1') });
    expect(forged.refusal?.message).toMatch(/signature or format invalid/);
    const unknownKey = await connectAs(local.server.url, { token: await sign(other.privateKey, 'k2') });
    expect(unknownKey.refusal?.message).toMatch(/no key in the key set/);
    // An HMAC token is never accepted by a public-key authenticator (algorithm confusion).
    const hmac = await connectAs(local.server.url, { token: await hsToken({ sub: 'bob', iss: 'https://id.test' }) });
    expect(hmac.closed?.code).toBe(CloseCode.UNAUTHORIZED);

    let fetches = 0;
    const jwksServer: Server = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    cleanup.defer(() => new Promise((resolve) => jwksServer.close(resolve)));
    const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
    const remote = await serverWith(jwtAuthenticator({ jwks: jwksUrl, issuer: 'https://id.test', toUser }));
    expect(await connectAs(remote.server.url, { token: await sign(privateKey, 'k1') })).toMatchObject({ user: { id: 'bob' } });
    expect(await connectAs(remote.server.url, { token: await sign(privateKey, 'k1') })).toMatchObject({ user: { id: 'bob' } });
    // Fetched once, then cached.
    expect(fetches).toBe(1);
  });
});

describe('authorize', () => {
  /** `private-<id>` streams: only their owner subscribes; publishing needs the `publisher` role; server code is trusted. */
  const authorize = ({ ctx, key, action }: { ctx: HardeningContext | null; key: string; action: 'subscribe' | 'publish' }) => {
    if (ctx === null) return true;
    if (action === 'publish') return ctx.user?.role === 'publisher';
    return !key.startsWith('private-') || key === `private-${ctx.user?.id}`;
  };
  const authenticate: Authenticate<TestUser> = (params) =>
    params?.['user'] ? { id: params['user'], ...(params['role'] ? { role: params['role'] } : {}) } : null;

  it('refuses a subscription with FORBIDDEN before anything is sent for it, and it receives nothing', async () => {
    const { server, app } = cleanup.add(await startHardeningServer({ authenticate }, { authorize }));
    const alice = rawSocket(server.url, { params: { user: 'alice' } });
    cleanup.defer(() => alice.close());
    await alice.opened;
    alice.send(request(1, 'subscription', 'numbers', { stream: 'private-bob' }));
    const refusal = await alice.frame(answerTo(1));
    expect(errorCodeOf(refusal)).toBe('FORBIDDEN');
    expect((refusal as { error: { json: { message: string } } }).error.json.message).toBe('Not allowed to subscribe on channel "numbers", key "private-bob"');

    // Bob, the owner, is let in; a message reaches him and not Alice.
    const bob = rawSocket(server.url, { params: { user: 'bob' } });
    cleanup.defer(() => bob.close());
    await bob.opened;
    bob.send(request(1, 'subscription', 'numbers', { stream: 'private-bob' }));
    await bob.frame((frame) => answerTo(1)(frame) && JSON.stringify(frame).includes('"live"'));
    await app.numbers.publish('private-bob', { n: 1 });
    await bob.frame((frame) => answerTo(1)(frame) && JSON.stringify(frame).includes('"message"'));
    // A round trip after the publish: whatever Alice's socket would get for it came before this answer.
    alice.send(request(2, 'query', 'add', { a: 1, b: 2 }));
    await alice.frame(answerTo(2));
    expect(alice.frames.filter(answerTo(1))).toEqual([refusal]);
    expect(alice.frames).toHaveLength(2);

    // Reads of the private stream are refused the same way.
    alice.send(request(3, 'query', 'history', { stream: 'private-bob' }));
    expect(errorCodeOf(await alice.frame(answerTo(3)))).toBe('FORBIDDEN');
  });

  it('checks publishes against the caller, and reports FORBIDDEN to the Herald client', async () => {
    const { server, app } = cleanup.add(await startHardeningServer({ authenticate }, { authorize }));
    const reader = createHeraldClient<HardeningRouter>({ url: server.url, connectionParams: { user: 'carol' }, backoff: FAST_BACKOFF });
    const writer = createHeraldClient<HardeningRouter>({ url: server.url, connectionParams: { user: 'dan', role: 'publisher' }, backoff: FAST_BACKOFF });
    cleanup.add(reader);
    cleanup.add(writer);

    const refused = await trpcErrorOf(reader.trpc.publish.mutate({ stream: 'news', n: 1 }));
    expect(heraldCodeOf(refused)).toBe('FORBIDDEN');
    expect(refused.data?.code).toBe('FORBIDDEN');

    const privateDan = recordChannel<{ n: number }>((handlers) => reader.trpc.numbers.subscribe({ stream: 'private-dan' }, handlers));
    cleanup.defer(() => privateDan.unsubscribe());
    const news = recordChannel<{ n: number }>((handlers) => reader.trpc.numbers.subscribe({ stream: 'news' }, handlers));
    cleanup.defer(() => news.unsubscribe());
    await news.waitForLive();
    await writer.trpc.publish.mutate({ stream: 'news', n: 2 });
    await app.numbers.publish('news', { n: 3 }); // server code: no ctx, trusted by this policy
    expect((await news.waitForMessages(2)).map((m) => m.n)).toEqual([2, 3]);
    expect(heraldCodeOf(await nextError(privateDan, 5_000, 'the refused subscription'))).toBe('FORBIDDEN');
    expect(privateDan.events).toEqual([]);
    expect(privateDan.errors).toHaveLength(1);
  });
});

describe('allowedOrigins', () => {
  it('refuses browser connections from other origins at the upgrade with 403, and counts them', async () => {
    const { server } = cleanup.add(await startHardeningServer({ allowedOrigins: ['https://app.example.com', 'http://localhost:5173'] }));
    expect(await upgradeStatus(server.url, { origin: 'https://app.example.com' })).toBe(101);
    expect(await upgradeStatus(server.url, { origin: 'HTTPS://APP.EXAMPLE.COM' })).toBe(101);
    expect(await upgradeStatus(server.url, { origin: 'http://localhost:5173' })).toBe(101);
    expect(await upgradeStatus(server.url, { origin: 'https://evil.example' })).toBe(403);
    expect(await upgradeStatus(server.url, { origin: 'https://app.example.com.evil.example' })).toBe(403);
    expect(await upgradeStatus(server.url, { origin: 'null' })).toBe(403);
    // No Origin header: not a browser, nothing for the check to protect.
    expect(await upgradeStatus(server.url)).toBe(101);
    expect(metricValue(await scrape(server), 'herald_refusals_total', { reason: 'origin' })).toBe(3);
  });

  it('takes a predicate', async () => {
    const { server } = cleanup.add(await startHardeningServer({ allowedOrigins: (origin) => origin.endsWith('.example.com') }));
    expect(await upgradeStatus(server.url, { origin: 'https://a.example.com' })).toBe(101);
    expect(await upgradeStatus(server.url, { origin: 'https://example.org' })).toBe(403);
  });
});

describe('TLS', () => {
  it('serves wss:// and https:// with the certificate it is given', async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
      ],
    });
    const { server } = cleanup.add(await startHardeningServer({ tls: { key: pems.private, cert: pems.cert } }));
    expect(server.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/ws$/);
    expect(server.httpUrl).toMatch(/^https:\/\//);

    // Herald's client takes a WebSocket class: this one trusts the test's certificate.
    class TrustingWebSocket extends WebSocket {
      constructor(address: string | URL, protocols?: string | string[], options?: ClientOptions) {
        super(address, protocols, { ...options, ca: pems.cert });
      }
    }
    const client = createHeraldClient<HardeningRouter>({
      url: server.url,
      WebSocket: TrustingWebSocket as unknown as typeof globalThis.WebSocket,
      backoff: FAST_BACKOFF,
    });
    cleanup.add(client);
    expect(await client.trpc.add.query({ a: 2, b: 3 })).toBe(5);

    const health = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      httpsGet(`${server.httpUrl}/healthz`, { ca: pems.cert }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject);
    });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok' });

    // A client that does not trust the certificate cannot connect: the channel really is TLS.
    const untrusting = new WebSocket(server.url);
    const failure = await withTimeout(
      new Promise<string>((resolve) => {
        untrusting.once('open', () => resolve('open'));
        untrusting.once('error', (error) => resolve(error.message));
      }),
      5_000,
      'the untrusting client',
    );
    expect(failure).toMatch(/self[- ]signed/i);
  });
});
