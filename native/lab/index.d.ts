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
  kind: 'get' | 'put' | 'put_if_absent' | 'compare_and_set' | 'erase' | 'add'
  key: string
  value?: bigint
  expected?: bigint
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

/** Everything the lab addon exports. */
export interface Lab {
  floor: NativeFloor
  /** The linearizability checker (test/support/lincheck.hpp) over a recorded history. */
  checkLinearizable(history: LincheckOperation[]): { linearizable: boolean; key?: string }
}

/** The lab addon; an Error naming `npm run build:native` when it is not built. */
export function loadLab(): Lab
