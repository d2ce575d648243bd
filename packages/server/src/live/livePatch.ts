import jsonPatch from 'fast-json-patch';
import type { SharedEvent } from '../channels/sharedEvent.js';

/**
 * A patch goes out instead of the whole result only when its JSON is
 * shorter than this fraction of the whole tracked data's: a patch the
 * client must apply is worth it only when it saves most of the bytes.
 */
export const LIVE_PATCH_MAX_FRACTION = 0.5;

/**
 * RFC 6902 JSON Patch (fast-json-patch's `compare`) from the tracked data of
 * `previous` to that of `current`, as JSON text, or '' when it is not
 * smaller than `LIVE_PATCH_MAX_FRACTION` of the whole. `dataOf` gives a
 * result's tracked data as the whole frame carries it (serialized once per
 * result). Memoized on `current` per previous version, so it is computed
 * once per node for every subscriber that had the same previous result,
 * and each result's data is parsed into a tree once.
 */
export function patchBetween(current: SharedEvent, previous: SharedEvent, dataOf: (shared: SharedEvent) => string): string {
  return current.memo(`patch:${previous.position}`, () => {
    const whole = dataOf(current);
    const text = JSON.stringify(jsonPatch.compare(treeOf(previous, dataOf), treeOf(current, dataOf)));
    return text.length < whole.length * LIVE_PATCH_MAX_FRACTION ? text : '';
  });
}

function treeOf(shared: SharedEvent, dataOf: (shared: SharedEvent) => string): object {
  return shared.memo('tree', () => JSON.parse(dataOf(shared)) as object);
}
