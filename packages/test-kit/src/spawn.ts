import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { repoPath } from './root.js';

/**
 * Runs a TypeScript entry point (a path from the repository root, or an
 * absolute one) in a child Node process with tsx and the `herald-source`
 * condition, as the tests see the packages: `@herald/*` imports, the kit's
 * included, resolve to their sources. Resolves once the child prints a line
 * matching `ready` (bounded by `timeoutMs`).
 */
export async function spawnTs(
  entry: string,
  args: string[],
  options: { ready: RegExp; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['--conditions=herald-source', '--import', 'tsx', entry, ...args], {
    cwd: repoPath(),
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timeoutMs = options.timeoutMs ?? 15_000;
  const started = Date.now();
  while (!options.ready.test(output)) {
    if (child.exitCode !== null) throw new Error(`${entry} exited with ${child.exitCode} before it was ready:\n${output}`);
    if (Date.now() - started > timeoutMs) {
      child.kill('SIGKILL');
      throw new Error(`${entry} was not ready after ${timeoutMs} ms:\n${output}`);
    }
    // Listeners of the waits that lost the race are removed, so polling a slow child does not pile them up.
    const lost = new AbortController();
    const wake = (emitter: NodeJS.EventEmitter, event: string) => once(emitter, event, { signal: lost.signal }).catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([wake(child.stdout!, 'data'), wake(child, 'exit'), new Promise((r) => (timer = setTimeout(r, 100)))]);
    lost.abort();
    clearTimeout(timer);
  }
  return { child, output: () => output };
}

/** Kills a child (SIGKILL by default) and waits until it is gone. */
export async function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}
