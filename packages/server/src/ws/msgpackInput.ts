import { Decoder, type ExtensionCodecType } from '@msgpack/msgpack';

/**
 * Reading a client's MessagePack frame: plain MessagePack only, and the one
 * extension Herald's frames carry. Frames are packed with msgpackr (shared's
 * msgpack.ts) but read here with @msgpack/msgpack, because msgpackr decodes
 * its own extensions for every reader of the process (they are registered
 * globally, with no option to turn them off): record definitions that change
 * what later bytes mean, bundled strings, and values it builds on the way
 * (RegExp, Error, Set, typed arrays, object references). A client must not
 * make the server run any of that, so an extension is refused before its
 * data is looked at, and the frame is answered with PARSE_ERROR.
 *
 * What is accepted: everything of the MessagePack spec but extensions, and
 * msgpackr's `undefined` (fixext 1, type 0, one zero byte: what it writes for
 * an `undefined` property, as notepack does). Dates, sets, maps, BigInt and
 * the rest travel as superjson writes them (strings and annotations), so the
 * spec's own timestamp (type -1) is refused too: no Herald client sends one,
 * and a Date that superjson's annotations do not mention is not an input the
 * server should see.
 */

/** msgpackr's (and notepack's) `undefined`: fixext 1 of type 0. */
const UNDEFINED_EXT = 0;

/** An extension a client's frame may not carry; its message is the refusal's. */
export class RefusedExtension extends Error {
  constructor(readonly extensionType: number) {
    super(
      `The frame uses MessagePack extension type ${extensionType}${KNOWN_EXTENSIONS[extensionType] ?? ''}, which Herald does not read: ` +
        'send plain MessagePack (msgpackr with useRecords: false and no bundleStrings, as @herald/shared msgpackEncoder packs), ' +
        'with dates, sets and other types as the transformer serializes them',
    );
    this.name = 'RefusedExtension';
  }
}

/** What the extensions a client is likely to send are, for the refusal's message. */
const KNOWN_EXTENSIONS: Record<number, string> = {
  [-1]: " (MessagePack's timestamp)",
  0x72: " (msgpackr's records/structures; pack with useRecords: false)",
  0x62: " (msgpackr's bundled strings; pack without bundleStrings)",
  0x74: " (msgpackr's typed arrays; send a Uint8Array, which packs as bin)",
  0x65: " (msgpackr's Error)",
  0x78: " (msgpackr's RegExp)",
  0x73: " (msgpackr's Set)",
  0x69: " (msgpackr's object reference)",
  0x70: " (msgpackr's object reference)",
  0x42: " (msgpackr's BigInt)",
};

const extensions: ExtensionCodecType<undefined> = {
  tryToEncode: () => null,
  decode(data, extensionType) {
    if (extensionType === UNDEFINED_EXT && data.length === 1 && data[0] === 0) return undefined;
    throw new RefusedExtension(extensionType);
  },
};

const decoder = new Decoder({ extensionCodec: extensions });

/** A client's MessagePack frame as a message; throws `RefusedExtension`, or the decoder's error for a malformed frame. */
export function decodeClientFrame(bytes: Uint8Array): unknown {
  return decoder.decode(bytes);
}
