import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/**
 * Runs a TypeScript entry point in a child Node process with tsx and the
 * `herald-source` condition, as the tests see the packages. Resolves once the
 * child prints a line matching `ready` (bounded by `timeoutMs`).
 */
export async function spawnTs(
  entry: string,
  args: string[],
  options: { ready: RegExp; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['--conditions=herald-source', '--import', 'tsx', entry, ...args], {
    cwd: ROOT,
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
    await Promise.race([once(child.stdout!, 'data'), once(child, 'exit'), new Promise((r) => setTimeout(r, 100))]);
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
