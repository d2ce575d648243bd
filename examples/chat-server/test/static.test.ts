import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChatServer, type ChatServer } from '@herald/example-chat-server';

/** A raw HTTP request, so paths like `/../x` reach the server as written. */
function get(
  port: number,
  path: string,
  method = 'GET',
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; raw: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: raw.toString('utf8'), raw });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const BIG = `export const words = ${JSON.stringify('lorem ipsum dolor sit amet '.repeat(400))};`;

describe('startChatServer({ staticDir })', () => {
  let root = '';
  let chat: ChatServer;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'herald-static-'));
    const app = join(root, 'app');
    mkdirSync(join(app, 'assets'), { recursive: true });
    writeFileSync(join(app, 'index.html'), '<!doctype html><title>app</title>');
    writeFileSync(join(app, 'assets', 'main-abc123.js'), 'console.log(1)');
    // As the web app's build leaves them (examples/chat-web/build/precompress.ts).
    writeFileSync(join(app, 'assets', 'big-def456.js'), BIG);
    writeFileSync(join(app, 'assets', 'big-def456.js.br'), brotliCompressSync(BIG));
    writeFileSync(join(app, 'assets', 'big-def456.js.gz'), gzipSync(BIG));
    writeFileSync(join(app, '.env'), 'SECRET=1');
    writeFileSync(join(root, 'secret.txt'), 'outside the app');
    chat = await startChatServer({ port: 0, host: '127.0.0.1', staticDir: app });
  });

  afterAll(async () => {
    await chat.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('serves index.html at / with the page security headers', async () => {
    const res = await get(chat.server.port, '/');
    expect(res.status).toBe(200);
    expect(res.body).toContain('<title>app</title>');
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-cache');
  });

  it('serves fingerprinted assets, cached for good', async () => {
    const res = await get(chat.server.port, '/assets/main-abc123.js');
    expect(res.status).toBe(200);
    expect(res.body).toBe('console.log(1)');
    expect(res.headers['cache-control']).toContain('immutable');
  });

  it('serves the precompressed copy the request accepts, brotli first, with its encoding, and the file itself otherwise', async () => {
    const path = '/assets/big-def456.js';
    const br = await get(chat.server.port, path, 'GET', { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['vary']).toMatch(/accept-encoding/i);
    expect(br.headers['content-type']).toMatch(/javascript/);
    expect(br.headers['cache-control']).toContain('immutable');
    expect(brotliDecompressSync(br.raw).toString()).toBe(BIG);
    expect(br.raw.byteLength).toBeLessThan(BIG.length / 10);

    const gz = await get(chat.server.port, path, 'GET', { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.raw).toString()).toBe(BIG);

    const plain = await get(chat.server.port, path);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe(BIG);
  });

  it('answers client-side routes with index.html, and a missing asset with 404', async () => {
    expect((await get(chat.server.port, '/rooms/lobby')).body).toContain('<title>app</title>');
    expect((await get(chat.server.port, '/assets/missing.js')).status).toBe(404);
  });

  it('never serves files outside the folder, or dotfiles', async () => {
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/..%5csecret.txt', '/.env']) {
      const res = await get(chat.server.port, path);
      expect(res.body, path).not.toContain('outside the app');
      expect(res.body, path).not.toContain('SECRET');
    }
  });

  it('keeps health checks and leaves other methods to the 404 handler', async () => {
    expect(JSON.parse((await get(chat.server.port, '/healthz')).body)).toMatchObject({ status: 'ok' });
    expect((await get(chat.server.port, '/', 'POST')).status).toBe(404);
  });

  it('refuses to start on a folder with no index.html', async () => {
    await expect(startChatServer({ port: 0, host: '127.0.0.1', staticDir: root })).rejects.toThrow(/no index\.html/);
  });
});
