/** HAProxy in front of test nodes, configured from the documented deploy/haproxy.cfg. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@herald/server/testing';
import type { Cleanup } from './cleanup.js';
import { repoPath } from './root.js';
import { kill } from './spawn.js';
import { pollUntil } from './waits.js';

/** The documented load balancer config, the single source the test renders. */
export const haproxyConfigPath = (): string => repoPath('deploy/haproxy.cfg');

/**
 * Renders deploy/haproxy.cfg for a test: the one `bind` line listens on
 * `bind` instead, and the backend's `server` lines are replaced by one per
 * address in `servers`, each with the first server line's options. Everything
 * else (timeouts, balancing, health checks) stays as written.
 */
export function renderHaproxyConfig(template: string, options: { bind: string; servers: readonly string[] }): string {
  const lines = template.split('\n');
  const bindLines = lines.filter((line) => /^\s*bind\s+\S+/.test(line));
  if (bindLines.length !== 1) throw new Error(`haproxy.cfg must have exactly one bind line, found ${bindLines.length}`);
  const serverPattern = /^(\s*)server\s+(\S+)\s+(\S+)(.*)$/;
  const firstServer = lines.map((line) => serverPattern.exec(line)).find((match) => match !== null);
  if (!firstServer || options.servers.length === 0) throw new Error('haproxy.cfg must have a server line, and the test at least one server');
  const [, indent = '', , , serverOptions = ''] = firstServer;
  const rendered: string[] = [];
  let serversWritten = false;
  for (const line of lines) {
    if (/^\s*bind\s+\S+/.test(line)) {
      rendered.push(line.replace(/^(\s*bind\s+)\S+/, `$1${options.bind}`));
    } else if (serverPattern.test(line)) {
      if (serversWritten) continue;
      serversWritten = true;
      options.servers.forEach((address, i) => rendered.push(`${indent}server node${i + 1} ${address}${serverOptions}`));
    } else {
      rendered.push(line);
    }
  }
  return rendered.join('\n');
}

export interface HaproxyProcess {
  /** `ws://127.0.0.1:<port>/ws` through the balancer. */
  readonly url: string;
  readonly httpUrl: string;
  output(): string;
}

/**
 * Starts `haproxy -f <rendered config> -db` (the path of the executable) in
 * front of the servers on 127.0.0.1 `nodes[i].port`; resolves once it proxies
 * `/readyz` to a ready one. `cleanup` stops it.
 */
export async function startHaproxy(cleanup: Cleanup, haproxy: string, nodes: readonly { readonly port: number }[]): Promise<HaproxyProcess> {
  const port = await freePort();
  const config = renderHaproxyConfig(readFileSync(haproxyConfigPath(), 'utf8'), {
    bind: `127.0.0.1:${port}`,
    servers: nodes.map((node) => `127.0.0.1:${node.port}`),
  });
  const dir = mkdtempSync(join(tmpdir(), 'herald-haproxy-'));
  cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'haproxy.cfg');
  writeFileSync(configPath, config);
  const child = spawn(haproxy, ['-f', configPath, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  cleanup.defer(() => kill(child));
  const httpUrl = `http://127.0.0.1:${port}`;
  // Nothing announces that HAProxy listens and has marked a backend up: ask it.
  await pollUntil(
    async () => {
      if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}:\n${output}\nconfig:\n${config}`);
      try {
        const response = await fetch(`${httpUrl}/readyz`, { signal: AbortSignal.timeout(1_000) });
        await response.body?.cancel();
        return response.status === 200;
      } catch {
        return false; // not listening yet
      }
    },
    'haproxy to proxy /readyz to a node',
  );
  return { url: `ws://127.0.0.1:${port}/ws`, httpUrl, output: () => output };
}
