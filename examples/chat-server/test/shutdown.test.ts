import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppRouter } from '@herald/example-chat-server';
import { Cleanup, heraldClient, kill, nextState, spawnTs, withTimeout } from '@herald/test-kit';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('the demo process', () => {
  it('drains on SIGTERM: clients are told to move, and it exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-demo-'));
    cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
    const secretFile = join(dir, '.dev-secret');
    const { child, output } = await spawnTs('examples/chat-server/src/main.ts', [], {
      ready: /listening: WebSocket ws:\/\/\S+/,
      env: { PORT: '0', STATIC_DIR: '/nonexistent', AUTH_SECRET: 'a'.repeat(32), DEV_SECRET_FILE: secretFile },
    });
    cleanup.defer(() => kill(child));
    // AUTH_SECRET is used as it is: no development secret is written.
    expect(existsSync(secretFile)).toBe(false);
    expect(output()).not.toMatch(/development secret/);
    const url = /listening: WebSocket (ws:\/\/[^\s,]+)/.exec(output())?.[1] ?? '';
    const httpUrl = url.replace(/^ws/, 'http').replace(/\/ws$/, '');

    const client = cleanup.add(heraldClient<AppRouter>(url));
    expect(await client.trpc.system.health.query()).toMatchObject({ nodeId: expect.any(String) });
    expect((await fetch(`${httpUrl}/readyz`)).status).toBe(200);

    const exited = once(child, 'exit');
    // The client sees its connection go, and keeps trying (there is no other node here).
    const reconnecting = nextState(client, 'reconnecting', 10_000);
    child.kill('SIGTERM');
    const [code] = (await withTimeout(exited, 10_000, 'the process to exit')) as [number | null];
    expect(code).toBe(0);
    expect(output()).toMatch(/SIGTERM: draining connections/);
    await reconnecting;
  });
});
