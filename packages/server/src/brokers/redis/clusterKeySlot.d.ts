/** `cluster-key-slot` ships no types: the one function the broker uses. */
declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot (0-16383) of `key`, honouring a `{hash tag}`. */
  export default function calculateSlot(key: string): number;
}
