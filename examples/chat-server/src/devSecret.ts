import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

/** Bytes of randomness in a generated secret (stored base64url: 43 characters). */
const SECRET_BYTES = 32;
/** The shortest secret the token issuer takes, in characters of the file. */
const MIN_SECRET_LENGTH = 32;

export interface DevSecret {
  readonly secret: string;
  /** True when this call generated the secret and wrote the file; false when the file was there. */
  readonly created: boolean;
}

/**
 * The development token secret kept in `file`: read when the file exists,
 * else generated and written (owner read/write only, created exclusively so
 * two processes starting at once agree on one secret). Restarting the demo
 * then keeps everyone signed in. Only for a machine's own demo: a deployment
 * sets `AUTH_SECRET`, shared by its nodes.
 */
export function loadOrCreateDevSecret(file: string): DevSecret {
  const existing = readSecret(file);
  if (existing !== null) return { secret: existing, created: false };
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  try {
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    // Another process wrote it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      const theirs = readSecret(file);
      if (theirs !== null) return { secret: theirs, created: false };
    }
    throw error;
  }
  return { secret, created: true };
}

/** The secret in `file`, or null when there is no file. */
function readSecret(file: string): string | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const secret = text.trim();
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new Error(`The development secret in ${file} is shorter than ${MIN_SECRET_LENGTH} characters: delete the file to get a new one`);
  }
  return secret;
}
