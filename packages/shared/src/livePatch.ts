/**
 * Live query patches on a WebSocket that speaks JSON, between Herald's
 * server and Herald's client (stock tRPC clients never ask, and get whole
 * results):
 *
 * ```
 *  client: {"id":1,"method":"subscription","params":{…,"livePatches":true}}
 *  server: {"id":1,"result":{"type":"started","livePatches":true}}      a live query: patches may follow
 *  server: {"id":1,"result":{"type":"data","id":"V1","data":D1}}        whole: the base
 *  server: {"id":1,"result":{"type":"patch","id":"V2","base":"V1","patch":[…]}}
 * ```
 *
 * A patch is RFC 6902 JSON Patch from the tracked data `D1` (the
 * transformer's `{ json, meta }` of `{ id, data }`, as the whole frame
 * carries it) to `D2`. The client applies it only to the data of version
 * `base`; on any mismatch it stops the subscription and subscribes again
 * without `lastEventId`, which brings the whole current result.
 */

/** The subscription request's `params` field by which a client says it applies patches. */
export const LIVE_PATCHES_PARAM = 'livePatches';

/** The `result.type` of a patch frame. */
export const LIVE_PATCH_TYPE = 'patch';

/** One patch frame's `result`. */
export interface LivePatchResult {
  readonly type: typeof LIVE_PATCH_TYPE;
  /** The new version (the tracked id). */
  readonly id: string;
  /** The version whose data the patch applies to. */
  readonly base: string;
  /** RFC 6902 operations. */
  readonly patch: readonly unknown[];
}
