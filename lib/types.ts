// Public types of the TypeScript layer: option shapes, the type-name to
// TypeScript-type maps, handles and stats.

import type { FetchMethodOptions } from './fetch'
import type {
  EvictOption,
  KeyTypeName,
  NativeStats,
  NumaOption,
  StrategyName,
  StrategyOption,
  ValueTypeName,
} from './native'

export type { KeyTypeName, StrategyName, StrategyOption, ValueTypeName }
export type { EvictionName, EvictionStats, EvictOption } from './native'

/** The primitives an `any` key may be (objects are not keys: they cannot cross threads by identity). */
export type Primitive = string | number | bigint | boolean | null | undefined

/** What JSON.parse can return. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

/** The TypeScript type of each key type name. */
export interface KeyTypes {
  string: string
  number: number
  bigint: bigint
  bytes: Uint8Array
  any: Primitive
}

/** The TypeScript type of each value type name. */
export interface ValueTypes {
  string: string
  number: number
  bigint: bigint
  boolean: boolean
  bytes: Uint8Array
  json: JsonValue
  structured: unknown
  any: unknown
}

// Compile-time checks: each name list has exactly one TypeScript type per name.
type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const keyTypesComplete: SameKeys<keyof KeyTypes, KeyTypeName> = true
const valueTypesComplete: SameKeys<keyof ValueTypes, ValueTypeName> = true
void keyTypesComplete
void valueTypesComplete

export interface ThreadMapOptions<
  KT extends KeyTypeName = KeyTypeName,
  VT extends ValueTypeName = ValueTypeName,
> {
  /** Key type; default 'any' (primitives, SameValueZero like Map). */
  keys?: KT
  /** Value type; default 'any' (primitives, objects via v8.serialize). */
  values?: VT
  /** Default 'auto'. */
  strategy?: StrategyOption
  /** Entries to size the tables for up front; default 0. */
  capacity?: number
  /**
   * Bytes of tables and entries the map may use; 0 (default) is unlimited.
   * A write past it is a RangeError, unless `evict` names a policy (then it
   * evicts; see "Cache" in the README).
   */
  maxMemory?: number
  /**
   * The most entries the map holds (lru-cache's `max`): a write of a new key
   * to a full map evicts one with the `evict` policy. Strategies 'mutex',
   * 'rwlock' and 'striped' ('auto') only; 1 to 2^31 - 1.
   */
  maxEntries?: number
  /**
   * How a bounded map makes room: 'wtinylfu' (the default with maxEntries),
   * 'clock', or 'none' (maxMemory refuses writes past it, as without this
   * option).
   */
  evict?: EvictOption
  /**
   * Milliseconds an entry lives after the write that stored it (lru-cache's
   * `ttl`); 0 for no default (entries live until a set(key, value, { ttl })
   * gives one). An expired entry is absent to every read at once. Strategies
   * 'mutex', 'rwlock' and 'striped' ('auto') only; an integer from 0 to
   * 2^53 - 1. See "Expiry (TTL)" in the README.
   */
  ttl?: number
  /** Overwriting an entry keeps its deadline (lru-cache's `noUpdateTTL`); needs `ttl`. */
  noUpdateTTL?: boolean
  /** Where the tables' memory goes on a NUMA machine; default 'none' (see numa in the README). */
  numa?: NumaOption
  /**
   * The loader fetch(key) uses when it is given none (lru-cache's
   * fetchMethod). A function stays in its thread: it is this ThreadMap's,
   * not the shared map's (an attached ThreadMap passes its loader to fetch).
   */
  fetchMethod?(
    key: KeyTypes[KT],
    staleValue: ValueTypes[VT] | undefined,
    options: FetchMethodOptions,
  ): ValueTypes[VT] | undefined | PromiseLike<ValueTypes[VT] | undefined>
  /**
   * Decoded values each thread keeps, deep-frozen, for gets of unchanged
   * entries (see "Read cache" in the README); default 0 (none). Every thread
   * that attaches gets its own cache of this size.
   */
  readCache?: number
  /**
   * Whether the map keeps revisions; default true. `false` saves every write
   * its step of the map's one revision counter, a cache line all writing
   * threads share (see "Revisions" in the README): `revision`,
   * `revisionOf()`, `watch()`, `snapshot()` and `readCache` then throw a
   * TypeError. Strategies 'mutex', 'rwlock' and 'striped' ('auto') only.
   */
  revisions?: boolean
}

/**
 * A plain object naming a shared map: it survives postMessage and workerData
 * (structured clone) and JSON. It does not keep the map alive: keep a
 * ThreadMap open in some thread until the receiver has attached.
 */
export interface ThreadMapHandle {
  readonly threadmap: 1
  readonly id: number
  readonly keys: KeyTypeName
  readonly values: ValueTypeName
  readonly strategy: StrategyName
}

/**
 * The range an ordered map's entries(), keys() and values() read: keys above
 * `gt` (at or above `gte`) and below `lt` (at or below `lte`), in ascending
 * key order, or descending with `reverse`, at most `limit` of them.
 */
export interface RangeOptions<K> {
  gte?: K
  gt?: K
  lte?: K
  lt?: K
  reverse?: boolean
  limit?: number
}

/** What stats() returns. */
export type ThreadMapStats = NativeStats

/**
 * set(key, value, options), setMany(..., options) and the atomic writes
 * (setIfAbsent, getOrSet, compareAndSet, swap, add, update): the ttl of the
 * value stored (ms; 0: never expires), on a map made with `ttl`.
 */
export interface SetOptions {
  ttl?: number
}
