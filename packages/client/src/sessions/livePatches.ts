import jsonPatch, { type Operation } from 'fast-json-patch';
import { LIVE_PATCH_TYPE, LIVE_PATCHES_PARAM } from '@herald/shared/internal';
import { isNewerVersion } from '../liveVersion.js';
import { callEventOf } from './frames.js';
import type { CallEvent, OutgoingCall } from './session.js';

/** A subscription that asked for live query patches, on one socket. */
interface LiveCall {
  readonly call: OutgoingCall;
  /** The server's `started` said its results may come as patches (it is a live query). */
  patched: boolean;
  /** The tracked data (as the wire carried it, before it was revived) of the version a patch applies to; null until a whole result came, or after a mismatch. */
  base: { readonly version: string; readonly data: unknown } | null;
  /** The newest version passed on: nothing older or equal is passed on again. */
  delivered: string | null;
  /** `stopped` frames of subscriptions stopped here to resync, not to pass on. */
  staleStops: number;
}

/** What `LivePatches` asks of its session. */
export interface PatchRequests {
  /** Sends `subscription.stop` for `id`. */
  stop(id: number): void;
  /** Sends the subscription request `call` again under its id. */
  start(call: OutgoingCall): void;
}

/**
 * Live query patches on one WebSocket (`@herald/shared`'s livePatch): each
 * subscription asks for them; once the server's `started` says a
 * subscription is a live query, its whole results are kept as bases, and a
 * patch frame is applied (RFC 6902, fast-json-patch, validated) to the base
 * of the version it names, then revived as a whole result would be. A patch
 * for another base, or one that does not apply, is never shown: the
 * subscription is stopped and started again without `lastEventId`, and the
 * server sends the whole current result. A version at or below one already
 * passed on is dropped, so the app never sees a result go back.
 */
export class LivePatches {
  readonly #calls = new Map<number, LiveCall>();
  readonly #requests: PatchRequests;

  constructor(requests: PatchRequests) {
    this.#requests = requests;
  }

  /** The params `call`'s request adds to ask for patches (a subscription), or '' (anything else). */
  ask(call: OutgoingCall): string {
    if (call.type !== 'subscription') return '';
    const known = this.#calls.get(call.id);
    this.#calls.set(call.id, { call, patched: known?.patched ?? false, base: null, delivered: known?.delivered ?? null, staleStops: known?.staleStops ?? 0 });
    return `,"${LIVE_PATCHES_PARAM}":true`;
  }

  /** The call was stopped (by the app or the tracker): nothing more of it is read. */
  forget(id: number): void {
    this.#calls.delete(id);
  }

  /** The event a frame for call `id` gives the tracker, or null when it gives none (a dropped stale frame). */
  eventOf(id: number, frame: Readonly<Record<string, unknown>>): CallEvent | null {
    const live = this.#calls.get(id);
    const result = frame['result'];
    if (!live || typeof result !== 'object' || result === null) {
      if (live && 'error' in frame) this.#calls.delete(id);
      return callEventOf(frame);
    }
    const fields = result as Readonly<Record<string, unknown>>;
    const type = fields['type'];
    if (type === 'started') live.patched = fields[LIVE_PATCHES_PARAM] === true;
    else if (type === 'stopped' && live.staleStops > 0) {
      live.staleStops--;
      return null;
    } else if (type === LIVE_PATCH_TYPE) return this.#applied(live, fields);
    else if (live.patched && (type === 'data' || type === undefined)) {
      const event = callEventOf(frame);
      if (event.type !== 'data' || event.id === undefined) return event;
      // The whole current result after a resync is usually the version already shown: the base, not news.
      if (event.id !== live.delivered && !isNewerVersion(event.id, live.delivered)) return null;
      live.base = { version: event.id, data: fields['data'] };
      if (event.id === live.delivered) return null;
      live.delivered = event.id;
      return event;
    }
    return callEventOf(frame);
  }

  #applied(live: LiveCall, patch: Readonly<Record<string, unknown>>): CallEvent | null {
    const { id, base, patch: operations } = patch;
    // Asking again: patches for the subscription that was stopped are dropped.
    if (live.base === null && live.staleStops > 0) return null;
    if (typeof id !== 'string' || live.base === null || base !== live.base.version || !Array.isArray(operations)) return this.#resync(live);
    let data: unknown;
    try {
      data = jsonPatch.applyPatch(live.base.data, operations as Operation[], true, false).newDocument;
    } catch {
      return this.#resync(live);
    }
    const event = callEventOf({ result: { type: 'data', id, data } });
    if (event.type !== 'data') return this.#resync(live);
    live.base = { version: id, data };
    if (!isNewerVersion(id, live.delivered)) return null;
    live.delivered = id;
    return event;
  }

  /** The base is gone or wrong: subscribe again from scratch, which brings the whole current result. */
  #resync(live: LiveCall): null {
    live.base = null;
    live.staleStops++;
    const { id } = live.call;
    this.#requests.stop(id);
    this.#requests.start({ ...live.call, lastEventId: undefined });
    return null;
  }
}
