/**
 * The demo's tokens: they expire after `tokenTtlSeconds`, `auth.refresh`
 * trades a valid one for a new one (on the socket, or over HTTP with
 * `Authorization: Bearer`), and the development secret `pnpm start` keeps in
 * a file when `AUTH_SECRET` is unset.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTRPCClient, httpLink } from '@trpc/client';
import { decodeJwt } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { transformer } from '@herald/shared';
import { createTokenIssuer, type AppRouter } from '@herald/example-chat-server';
import { Cleanup, heraldClient, trpcErrorOf } from '@herald/test-kit';
import { loadOrCreateDevSecret } from '../src/devSecret.js';
import { loginToken, startTestServer } from './helpers/chat.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const SECRET = 'tokens-test-secret-0123456789abcdef';

/** `auth.refresh` over the server's HTTP endpoint, as the web app and the Node service call it. */
function refreshOverHttp(httpUrl: string, token: string): Promise<{ token: string }> {
  const client = createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${httpUrl}/trpc`, transformer, headers: { authorization: `Bearer ${token}` } })],
  });
  return client.auth.refresh.mutate();
}

describe('token lifetime and auth.refresh', () => {
  it('signs tokens that expire after tokenTtlSeconds, 15 minutes unless set', async () => {
    const defaults = cleanup.add(await startTestServer({ authSecret: SECRET }));
    const short = cleanup.add(await startTestServer({ authSecret: SECRET, tokenTtlSeconds: 42 }));
    for (const [chat, ttl] of [
      [defaults, 15 * 60],
      [short, 42],
    ] as const) {
      const { token } = await loginToken(chat.server.url);
      const claims = decodeJwt(token);
      expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(ttl);
    }
  });

  it('auth.refresh on the socket: a new token for the same user, good to connect and send with', async () => {
    const chat = cleanup.add(await startTestServer({ authSecret: SECRET }));
    const session = await loginToken(chat.server.url, 'ann');
    const client = cleanup.add(heraldClient<AppRouter>(chat.server.url, { token: session.token }));
    const { token } = await client.trpc.auth.refresh.mutate();
    expect(decodeJwt(token)).toMatchObject({ sub: session.user.id, name: 'ann' });

    const next = cleanup.add(heraldClient<AppRouter>(chat.server.url, { token }));
    const sent = await next.trpc.chat.send.mutate({ room: 'lobby', text: 'with the refreshed token' });
    expect(sent.author).toEqual(session.user);
  });

  it('auth.refresh needs a valid token: an anonymous connection is refused', async () => {
    const chat = cleanup.add(await startTestServer({ authSecret: SECRET }));
    const anonymous = cleanup.add(heraldClient<AppRouter>(chat.server.url));
    const error = await trpcErrorOf(anonymous.trpc.auth.refresh.mutate());
    expect(error.data?.code).toBe('UNAUTHORIZED');
  });

  it('auth.refresh over HTTP with Authorization: Bearer, and UNAUTHORIZED (401) for a token another secret signed', async () => {
    const chat = cleanup.add(await startTestServer({ authSecret: SECRET }));
    const session = await loginToken(chat.server.url, 'bob');
    const { token } = await refreshOverHttp(chat.server.httpUrl, session.token);
    expect(decodeJwt(token)).toMatchObject({ sub: session.user.id, name: 'bob' });

    const foreign = await createTokenIssuer('another-secret-0123456789abcdef-0123').sign(session.user);
    const error = await trpcErrorOf(refreshOverHttp(chat.server.httpUrl, foreign));
    expect(error.data?.code).toBe('UNAUTHORIZED');
    expect(error.data?.httpStatus).toBe(401);
  });
});

describe('the development secret', () => {
  it('is generated once into the file (owner read/write only), then read from it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-dev-secret-'));
    cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, '.dev-secret');

    const first = loadOrCreateDevSecret(file);
    expect(first.created).toBe(true);
    expect(first.secret.length).toBeGreaterThanOrEqual(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // A token issuer takes it.
    expect(() => createTokenIssuer(first.secret)).not.toThrow();

    expect(loadOrCreateDevSecret(file)).toEqual({ secret: first.secret, created: false });
    expect(loadOrCreateDevSecret(join(dir, 'other')).secret).not.toBe(first.secret);
  });

  it('refuses a file too short to be a secret, naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-dev-secret-'));
    cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, '.dev-secret');
    writeFileSync(file, 'short\n');
    expect(() => loadOrCreateDevSecret(file)).toThrow(`The development secret in ${file} is shorter than 32 characters`);
  });
});
