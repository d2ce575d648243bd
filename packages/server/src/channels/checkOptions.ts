import { z } from 'zod';

/**
 * What to do when zod 3 is installed, said once. zod 3.25's `zod/v4` is not
 * enough: Herald imports `zod` (its `resumeInput` and its own checks), which
 * is then zod 3, and an app's `zod/v4` object refuses `...resumeInput` at
 * every subscription ("expected a Zod schema").
 */
export const ZOD_4_NEEDED =
  "Herald needs zod 4 as the app's `zod` package: run `npm install zod@^4` and import { z } from 'zod'. zod 3.25's 'zod/v4' is not enough: Herald imports 'zod' (its resumeInput is built with it), which would still be zod 3";

/**
 * Checks that the `zod` package Herald imports (the app's, a peer
 * dependency) is zod 4; `probe` is a schema of it (a parameter for tests).
 */
export function checkInstalledZod(probe: object = z.string()): void {
  if (!('_zod' in probe)) throw new TypeError(`The installed zod is zod 3. ${ZOD_4_NEEDED}`);
}

/**
 * Checks a channel's declaration when `herald.channel` runs, so a mistake
 * fails at startup with what to do instead of at the first publish or
 * subscribe (or never, as a wrong number would).
 */
export function checkChannelOptions(name: string, options: unknown): void {
  const where = `herald.channel("${name}")`;
  checkInstalledZod();
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${where}: options are missing; pass at least { key: z.string(), message: z.object({ ... }) }`);
  }
  const { key, message, presence, history, subscriberBufferSize, onPresenceChange } = options as Record<string, unknown>;
  checkSchema(where, 'key', key, 'z.string()');
  checkSchema(where, 'message', message, 'z.object({ ... })');
  if (presence !== undefined) checkSchema(where, 'presence', presence, 'z.object({ ... })');
  if (onPresenceChange !== undefined) {
    if (typeof onPresenceChange !== 'function') {
      throw new TypeError(`${where}: onPresenceChange must be a function ({ key, type }) => void, got ${describe(onPresenceChange)}`);
    }
    if (presence === undefined) throw new TypeError(`${where}: onPresenceChange needs a presence schema (presence: z.object({ ... })); without one no subscriber joins presence`);
  }
  if (history !== undefined) {
    if (typeof history !== 'object' || history === null) {
      throw new TypeError(`${where}: history must be an object like { size: 1_000, ttlMs: 86_400_000 }, got ${describe(history)}`);
    }
    const { size, ttlMs } = history as { size?: unknown; ttlMs?: unknown };
    if (size !== undefined) checkCount(where, 'history.size', size, 'messages kept per key for resume and history()');
    if (ttlMs !== undefined) checkCount(where, 'history.ttlMs', ttlMs, 'how long a message stays in history, in ms');
  }
  if (subscriberBufferSize !== undefined) {
    checkCount(where, 'subscriberBufferSize', subscriberBufferSize, 'messages a subscriber may fall behind before it catches up from history');
  }
}

/** A zod 4 schema: what Herald parses keys, messages and presence with (`safeParse`, `z.prettifyError`). */
function checkSchema(where: string, field: string, value: unknown, example: string): void {
  if (typeof value !== 'object' || value === null || typeof (value as { safeParse?: unknown }).safeParse !== 'function') {
    throw new TypeError(`${where}: ${field} must be a zod schema such as ${example}, got ${describe(value)}`);
  }
  if (!('_zod' in value)) {
    throw new TypeError(`${where}: ${field} is a zod 3 schema. ${ZOD_4_NEEDED}`);
  }
}

/** A whole number of at least 1. */
function checkCount(where: string, field: string, value: unknown, meaning: string): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${where}: ${field} (${meaning}) must be a whole number of at least 1, got ${describe(value)}`);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}
