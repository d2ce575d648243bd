/** Building and reading tRPC wire frames by hand. */
import { transformer } from '@herald/shared';

/** A response frame, as a raw socket receives it. */
export interface RawFrame {
  readonly id: number | string | null;
  readonly result?: { readonly type?: string; readonly data?: unknown };
  readonly error?: unknown;
}

/** A predicate for the frame answering request `id`. */
export const answerTo = (id: number | string | null) => (frame: unknown) =>
  typeof frame === 'object' && frame !== null && (frame as { id?: unknown }).id === id;

/** The `heraldCode` (else the tRPC code) of an error frame, or null. */
export function errorCodeOf(frame: unknown): string | null {
  const error = (frame as { error?: { json?: { data?: { code?: string; heraldCode?: string | null } } } }).error;
  const data = error?.json?.data;
  return data ? (data.heraldCode ?? data.code ?? null) : null;
}

/** A request frame as tRPC's wire protocol has it (input through the transformer). */
export function request(id: number | string, method: 'query' | 'mutation' | 'subscription', path: string, input?: unknown): object {
  return { id, method, params: { path, input: transformer.serialize(input) } };
}

/** The deserialized `result.data` of a response frame. */
export function resultOf<T>(frame: unknown): T {
  return transformer.deserialize((frame as RawFrame).result?.data as never) as T;
}
