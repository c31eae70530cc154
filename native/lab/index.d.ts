// The typed contract of the lab addon (native/lab/*.cpp, loaded by index.js):
// bench and test scaffolding, not part of the package.

/**
 * The boundary floor (native/lab/floor_wrap.cpp): calls that only cross
 * into native code and read their argument, and the cheapest lookup a native
 * table can offer, for the benchmark.
 */
export interface NativeFloor {
  noop(): void
  number(x: number): void
  /** Reads the string as UTF-16, the way the codecs do. */
  string(s: string): void
  /** Reads the string as UTF-8 (Node-API's conversion). */
  stringUtf8(s: string): void
  /**
   * Builds this thread's plain single-threaded table of `keys` (key i maps to
   * i); lookup() writes what it finds into out[0]. TypeError unless `keys` is
   * an array of strings of at most 126 units and `out` a Float64Array.
   */
  lookupLoad(keys: string[], out: Float64Array): void
  /** Looks `key` up in the lookupLoad table: out[0] is its value, NaN when missing. */
  lookup(key: string): void
}

/**
 * One recorded operation for checkLinearizable: a map whose values are
 * bigints, the result as the core's status name. Field meanings as in
 * test/support/lincheck.hpp.
 */
export interface LincheckOperation {
  kind: 'get' | 'put' | 'put_if_absent' | 'compare_and_set' | 'erase' | 'add' | 'advance'
  key: string
  value?: bigint
  expected?: bigint
  /** add: the delta; advance: the ms the test clock moved. */
  delta?: bigint
  result: 'ok' | 'inserted' | 'not_found' | 'exists' | 'mismatch' | 'overflow'
  out?: bigint
  counter?: bigint
  /** The caller did not see the value the operation returned. */
  outUnknown?: boolean
  /** A compare_and_set only known to have failed (absent or different). */
  casFailed?: boolean
  invoked: number
  responded: number
}

/** The eviction policies of the core (eviction::all_kinds). */
export type EvictionPolicyName = 'wtinylfu' | 'clock'

/** What one cacheSim replay counted (test/support/cachesim.hpp). */
export interface CacheSimResult {
  hits: number
  misses: number
  /** Entries the policy named as victims. */
  evictions: number
  /** W-TinyLFU: window candidates moved into the main region. */
  admitted: number
  /** W-TinyLFU: window candidates evicted instead of a main entry. */
  rejected: number
  /** Read records applied, and lost (always 0 in a replay: it drains when full). */
  drained: number
  dropped: number
  /** Bytes, summed over the instances; perEntry is (nodes + sketch) / capacity + tablePerEntry. */
  memory: {
    capacity: number
    nodes: number
    sketch: number
    buffers: number
    object: number
    tablePerEntry: number
    perEntry: number
  }
}

/** Everything the lab addon exports. */
export interface Lab {
  floor: NativeFloor
  /**
   * The linearizability checker (test/support/lincheck.hpp) over a recorded
   * history. With `options.evictions` (the evictions the map counted), the
   * history is checked as a cache's: evictions are silent deletes, at most
   * that many, and `evictions` in the answer is the fewest it needed.
   * With `options.ttl` (the map's ttl in ms), entries expire on the test
   * clock that the history's `advance` operations (key '', `delta` the ms
   * moved) moved; `tooLong` when a key's part was too long to check.
   * RangeError for a count that is not a non-negative integer.
   */
  checkLinearizable(
    history: LincheckOperation[],
    options?: { evictions?: number; ttl?: number },
  ): { linearizable: boolean; key?: string; evictions?: number; tooLong?: boolean }
  /**
   * Replays `trace` (each key a read; a miss inserts the key) through
   * `options.stripes` instances (default 1) of the core's eviction policy
   * `policy`, sharing `capacity` entries, as the flat-table strategies will
   * drive them. TypeError for an unknown policy or a trace that is not a
   * Uint32Array; RangeError for a capacity outside 1 .. 2^31 - 1, fewer
   * entries than stripes, or lanes not a power of two up to 64.
   */
  cacheSim(
    policy: EvictionPolicyName,
    capacity: number,
    trace: Uint32Array,
    options?: { stripes?: number; lanes?: number },
  ): CacheSimResult
  /** The policy names cacheSim takes. */
  evictionPolicies: EvictionPolicyName[]
}

/** The lab addon; an Error naming `npm run build:native` when it is not built. */
export function loadLab(): Lab
