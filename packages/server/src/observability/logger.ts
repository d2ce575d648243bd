import { pino, type Logger } from 'pino';

/**
 * Herald's logger when the app passes none: pino at `info` on stdout, one
 * JSON line per event. Silent under tests (`NODE_ENV=test`, or vitest), where
 * a line per connection would bury the test output.
 */
export function defaultLogger(): Logger {
  return pino({ name: 'herald', level: isTestRun() ? 'silent' : 'info' });
}

function isTestRun(): boolean {
  return process.env['NODE_ENV'] === 'test' || process.env['VITEST'] !== undefined;
}

export type { Logger };
