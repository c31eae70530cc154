// ThreadMap<K, V>: a Map over a native concurrent map that every worker
// thread can share (see ../README.md and docs/ for the lifetime rules).

import { inspect, type InspectOptions } from 'node:util'

import { OBJECT_OUT, valueCodec, WRITTEN, type ObjectOut, type ValueCodec } from './codecs'
import { fetchArguments, fetchMissing, type FetchMethod, type FetchOptions } from './fetch'
import {
  addon,
  io,
  IO_LAYOUT,
  type MapRef,
  type NativeInfo,
  type NativeMap,
  type NativeRange,
  type TypedElements,
  type Wire,
} from './native'
import { ReadCache } from './read-cache'
import { written, writtenBuffer, writtenEnd, writtenStart } from './records'
import { Snapshot, type SnapshotOptions } from './snapshot'
import { Watcher, type WatchOptions } from './watch'
import type {
  KeyTypeName,
  KeyTypes,
  RangeOptions,
  SetOptions,
  StrategyName,
  ThreadMapHandle,
  ThreadMapOptions,
  ThreadMapStats,
  ValueTypeName,
  ValueTypes,
} from './types'

export type {
  JsonValue,
  KeyTypeName,
  KeyTypes,
  Primitive,
  RangeOptions,
  SetOptions,
  StrategyName,
  StrategyOption,
  ThreadMapHandle,
  ThreadMapOptions,
  ThreadMapStats,
  ValueTypeName,
  ValueTypes,
} from './types'
export { numa } from './numa'
export type { FetchMethod, FetchMethodOptions, FetchOptions } from './fetch'
export type { EvictionName, EvictionStats, EvictOption, LoadStats, WatchStats } from './native'
export { Snapshot, type SnapshotOptions, type SnapshotStats } from './snapshot'
export { WATCH_EVENT_TYPES, WatchCompactedError, Watcher, type WatchEvent, type WatchEventType, type WatchOptions } from './watch'
export type * from './numa'

const { CAS_EXPECT_ABSENT, CAS_DELETE, ITER_KEYS, ITER_VALUES, ITER_ENTRIES, BATCH_MAX } = addon.constants

// The ttl a write's options name (set, setMany and the atomic writes), or
// undefined; options that are not an object are a TypeError. The ttl itself
// is checked natively, by the write or by addon.checkTTL, with `call` in
// the messages.
// addon.compareAndSet with the ttl argument only when there is one (the
// addon then need not look at it).
function cas(ref: MapRef, key: Wire, expected: Wire, next: Wire, flags: number, ttl: unknown): boolean {
  return ttl === undefined
    ? addon.compareAndSet(ref, key, expected, next, flags)
    : addon.compareAndSet(ref, key, expected, next, flags, ttl)
}

function ttlOption(options: unknown, call: string): unknown {
  if (options === undefined) return undefined
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`threadmap: ${call}: options must be an object`)
  }
  return (options as SetOptions).ttl
}
// Entries per page of an ordered map's iteration (addon.range).
const RANGE_PAGE = 1024

/** Largest encoded key, in bytes. */
export const MAX_KEY_BYTES: number = addon.constants.MAX_KEY_BYTES
/** Largest encoded value, in bytes. */
export const MAX_VALUE_BYTES: number = addon.constants.MAX_VALUE_BYTES

const KEY_TYPES: readonly string[] = addon.constants.KEY_TYPES
const VALUE_TYPES: readonly string[] = addon.constants.VALUE_TYPES
// Every key ThreadMapOptions has: anything else is a mistake worth an error.
const OPTION_NAMES: readonly string[] = [
  'keys',
  'values',
  'strategy',
  'capacity',
  'maxMemory',
  'numa',
  'fetchMethod',
  'readCache',
  'maxEntries',
  'evict',
  'ttl',
  'noUpdateTTL',
  'revisions',
] satisfies (keyof ThreadMapOptions)[]

/** The strategies this build of the addon offers (options.strategy also takes 'auto'). */
export const STRATEGIES: readonly StrategyName[] = addon.constants.STRATEGIES

/**
 * The keys of a batch call (getMany, hasMany, deleteMany, setMany): an array,
 * or, for number keys, a Float64Array and, for bigint keys, a BigInt64Array or
 * BigUint64Array, which native code reads in place.
 */
export type BatchKeys<K> =
  | readonly K[]
  | (number extends K ? Float64Array : never)
  | (bigint extends K ? BigInt64Array | BigUint64Array : never)
/** The values of setMany(keys, values): an array, or a typed array as for keys. */
export type BatchValues<V> =
  | readonly V[]
  | (number extends V ? Float64Array : never)
  | (bigint extends V ? BigInt64Array | BigUint64Array : never)

type BatchInput = readonly unknown[] | TypedElements

function batchInput(what: string, x: unknown): BatchInput {
  if (Array.isArray(x)) return x
  // Which typed arrays the map takes is the addon's to say (by key type).
  if (ArrayBuffer.isView(x) && !(x instanceof DataView)) {
    // A detached typed array reads as length 0, and its length is read here
    // (to split it, to compare it with the values'), before the addon could
    // refuse it. Only an empty one can be detached.
    if (x.byteLength === 0 && isDetached(x.buffer)) {
      throw new TypeError(`threadmap: ${what} is a typed array whose ArrayBuffer is detached (transferred)`)
    }
    return x as TypedElements
  }
  throw new TypeError(`threadmap: ${what} must be an array, or a Float64Array, BigInt64Array or BigUint64Array`)
}

// ArrayBuffer.prototype.detached where the runtime has it (Node 22+);
// otherwise viewing a detached buffer throws (a SharedArrayBuffer, which
// cannot be detached, has no such property and views fine).
function isDetached(buffer: ArrayBufferLike): boolean {
  const flag: unknown = (buffer as { detached?: unknown }).detached
  if (typeof flag === 'boolean') return flag
  try {
    new Uint8Array(buffer)
    return false
  } catch {
    return true
  }
}

// A plain array whose elements are all numbers crosses as a Float64Array:
// spread as arguments, V8 would first box every double as a heap number
// (slower per key: docs/benchmarks.md, "Measurements behind code choices").
// An array holding anything else crosses as it is, and native
// code names a bad element's index.
function numbersAsTyped(input: BatchInput): BatchInput {
  if (!Array.isArray(input)) return input
  const out = new Float64Array(input.length)
  for (let i = 0; i < out.length; i++) {
    const x: unknown = input[i]
    if (typeof x !== 'number') return input
    out[i] = x
  }
  return out
}

/** The answers of `call` over every piece of `input` (see pieces), in order, as one array. */
function collect<T>(
  input: BatchInput,
  call: (base: number, typed: TypedElements | undefined, plain: readonly Wire[]) => T[],
): T[] {
  let out: T[] = []
  pieces(input, (base, typed, plain) => {
    const got = call(base, typed, plain)
    if (base === 0) out = got
    else for (let i = 0; i < got.length; i++) out.push(got[i])
  })
  return out
}

/**
 * Runs `call` over `input` in pieces of at most BATCH_MAX elements, in order
 * (one call for an empty input): a typed array as views of it, an array as
 * itself or as slices. `base` is the piece's first index in `input`.
 */
function pieces(
  input: BatchInput,
  call: (base: number, typed: TypedElements | undefined, plain: readonly Wire[]) => void,
): void {
  const n = input.length
  const typed = Array.isArray(input) ? undefined : (input as TypedElements)
  const plain = typed === undefined ? (input as readonly Wire[]) : []
  if (n <= BATCH_MAX) {
    call(0, typed, plain)
    return
  }
  for (let base = 0; base < n; base += BATCH_MAX) {
    const end = Math.min(base + BATCH_MAX, n)
    if (typed !== undefined) call(base, typed.subarray(base, end), plain)
    else call(base, undefined, plain.slice(base, end))
  }
}

// The io path: get, has, set, delete and add pass the map's reference, and
// number keys and values, through the thread's io buffer; the protocol is
// native/addon/io_protocol.hpp, and the addon names the key and value types
// whose numbers travel there (ioLayout).
const {
  ref: IO_REF,
  key: IO_KEY,
  value: IO_VALUE,
  revision: IO_REVISION,
  versionIndex: IO_VERSION_INDEX,
  versionLow: IO_VERSION_LOW,
  versionHigh: IO_VERSION_HIGH,
  valueOffset: IO_VALUE_OFFSET,
} = IO_LAYOUT
const IO_NUMBER_KEYS: readonly string[] = addon.ioLayout.numberKeys
const IO_NUMBER_VALUES: readonly string[] = addon.ioLayout.numberValues

function ioKey(ref: MapRef, numberKeys: boolean, key: unknown): boolean {
  io[IO_REF] = ref
  if (!numberKeys || typeof key !== 'number') return false
  io[IO_KEY] = key
  return true
}

// The io functions as plain constants: the addon's exports object is in
// dictionary mode, so reading a function off it in a hot call is a keyed
// lookup (Builtins_LoadIC, visible in a get's perf profile); a module constant
// is one context load.
const {
  ioGet,
  ioGetK,
  ioGetObject,
  ioGetObjectK,
  ioGetCached,
  ioGetCachedK,
  ioSet,
  ioSetK,
  ioSetWritten,
  ioSetWrittenK,
  ioHas,
  ioHasK,
  ioDelete,
  ioDeleteK,
  ioAdd,
  ioAddK,
} = addon

// Returned by native lookups for "no entry", since undefined is a storable
// value of `any` and `structured` maps.
const ABSENT: unique symbol = Symbol('threadmap.absent')
type Absent = typeof ABSENT
// Returned by the read cache's get when the cached copy is current.
const UNCHANGED: unique symbol = Symbol('threadmap.unchanged')

// ThreadMap.attach() passes the native map to the constructor through this
// slot (set and cleared around one `new`, with no user code in between).
let attaching: NativeMap | null = null

function isHandle(h: unknown): h is ThreadMapHandle {
  if (typeof h !== 'object' || h === null) return false
  const o = h as Record<string, unknown>
  return (
    o.threadmap === 1 &&
    typeof o.id === 'number' &&
    Number.isSafeInteger(o.id) &&
    o.id >= 0 &&
    typeof o.keys === 'string' &&
    KEY_TYPES.includes(o.keys) &&
    typeof o.values === 'string' &&
    VALUE_TYPES.includes(o.values) &&
    typeof o.strategy === 'string' &&
    (STRATEGIES as readonly string[]).includes(o.strategy)
  )
}

// setMany(entries): an array as it is, another iterable copied (like Map's
// constructor, any iterable of entries: a Map, a ThreadMap, a generator).
function entryList(entries: unknown): readonly unknown[] {
  if (Array.isArray(entries)) return entries
  if (entries !== null && typeof entries === 'object' && Symbol.iterator in entries) {
    return Array.from(entries as Iterable<unknown>)
  }
  throw new TypeError('threadmap: setMany(entries) needs an iterable of [key, value] entries, or (keys, values)')
}

/** Maps registered in this process and not yet freed (closed ones count until freed). */
export function liveMaps(): number {
  return addon.liveMaps()
}

/**
 * A Map whose entries live in a native concurrent hash map, outside the V8
 * heap, shared by every thread that attaches to it.
 *
 * Differences from Map: keys and values have a type fixed at construction
 * (objects are not keys; `bytes` keys compare by content); iteration order is
 * not insertion order (key order under strategy 'ordered'); iteration reads
 * the map in chunks, so entries set or deleted by anyone during an iteration
 * may or may not be seen (each entry present for the whole iteration is seen
 * exactly once).
 */
export class ThreadMap<K = unknown, V = unknown> implements Map<K, V> {
  // The native object keeps this thread's hold on the shared map; #ref names
  // it in the addon's map functions.
  readonly #native: NativeMap
  readonly #ref: MapRef
  readonly #info: NativeInfo
  readonly #codec: ValueCodec | null
  // Whether number keys (values) travel in the io buffer: the addon says
  // which types' do (ioLayout).
  readonly #numberKeys: boolean
  readonly #numberValues: boolean
  // options.fetchMethod: this thread's loader for fetch(key).
  #fetchMethod: FetchMethod<K, V> | undefined
  // This thread's read cache (the readCache option), or null.
  readonly #cache: ReadCache | null
  // The map's write versions (readVersions), for read-cache hits without a
  // call; null when the map has no read cache or keeps no versions.
  readonly #versions: Int32Array | null

  /**
   * `new ThreadMap()` and `new ThreadMap(entries)` behave like `new Map(...)`
   * with key and value types 'any'; `options` picks types, strategy and limits.
   */
  constructor(entries?: Iterable<readonly [K, V]> | null, options?: ThreadMapOptions) {
    if (attaching !== null) {
      this.#native = attaching
      attaching = null
    } else {
      if (options !== undefined && (typeof options !== 'object' || options === null)) {
        throw new TypeError('threadmap: options must be an object')
      }
      if (options !== undefined) {
        for (const name of Object.keys(options)) {
          if (!OPTION_NAMES.includes(name)) {
            throw new TypeError(`threadmap: unknown option '${name}' (the options are ${OPTION_NAMES.join(', ')})`)
          }
        }
        const fetchMethod: unknown = options.fetchMethod
        if (fetchMethod !== undefined && typeof fetchMethod !== 'function') {
          throw new TypeError('threadmap: options.fetchMethod must be a function')
        }
        this.#fetchMethod = fetchMethod as FetchMethod<K, V> | undefined
      }
      this.#native = new addon.NativeMap(options)
    }
    this.#info = addon.info(this.#native)
    this.#ref = this.#info.ref
    this.#codec = valueCodec(this.#info.values, this.#native)
    this.#numberKeys = IO_NUMBER_KEYS.includes(this.#info.keys)
    this.#numberValues = IO_NUMBER_VALUES.includes(this.#info.values)
    this.#cache = this.#info.readCache > 0 ? new ReadCache(this.#info.readCache) : null
    const words = this.#cache === null ? undefined : addon.readVersions(this.#ref)
    this.#versions = words === undefined ? null : new Int32Array(words)
    if (entries !== undefined && entries !== null) {
      try {
        for (const entry of entries) {
          if (typeof entry !== 'object' || entry === null) {
            throw new TypeError(`Iterator value ${String(entry)} is not an entry object`)
          }
          this.set(entry[0], entry[1])
        }
      } catch (err) {
        // The half-filled map is unreachable: free it now, not at GC.
        addon.close(this.#ref)
        throw err
      }
    }
  }

  /**
   * Typed construction from type names:
   * `ThreadMap.create({ keys: 'string', values: 'number' })` is a
   * `ThreadMap<string, number>`.
   */
  static create<KT extends KeyTypeName = 'any', VT extends ValueTypeName = 'any'>(
    options?: ThreadMapOptions<KT, VT>,
  ): ThreadMap<KeyTypes[KT], ValueTypes[VT]> {
    return new ThreadMap<KeyTypes[KT], ValueTypes[VT]>(null, options)
  }

  /**
   * A ThreadMap over the map `handle` names (from `map.handle()` in any
   * thread), with the same types. TypeError when `handle` is not a handle;
   * Error when no live map has its id (closed, freed, or forged).
   */
  static attach<K = unknown, V = unknown>(handle: ThreadMapHandle): ThreadMap<K, V> {
    if (!isHandle(handle)) {
      throw new TypeError(
        'threadmap: ThreadMap.attach() needs the object returned by map.handle() ' +
          '({ threadmap: 1, id, keys, values, strategy })',
      )
    }
    const native = addon.attach(handle.id)
    const info = addon.info(native)
    if (info.keys !== handle.keys || info.values !== handle.values || info.strategy !== handle.strategy) {
      throw new Error(
        `threadmap: the handle does not describe map ${handle.id} (it has keys '${info.keys}', ` +
          `values '${info.values}', strategy '${info.strategy}'); it is stale or forged`,
      )
    }
    attaching = native
    try {
      return new ThreadMap<K, V>()
    } finally {
      attaching = null
    }
  }

  #encode(value: V | undefined): Wire {
    return this.#codec === null ? (value as Wire) : this.#codec.encode(value)
  }

  #decode(wire: Wire | ObjectOut): V {
    return (this.#codec === null ? wire : this.#codec.decode(wire)) as V
  }

  #decodeOr(wire: Wire | ObjectOut | Absent): V | undefined {
    return wire === ABSENT ? undefined : this.#decode(wire)
  }

  // --- Map --------------------------------------------------------------------

  get size(): number {
    return addon.size(this.#ref)
  }

  /**
   * The map's revision: that of its latest write (0 before the first). Every
   * write that changes the map (set, a setIfAbsent or compareAndSet that
   * changes it, add, delete, each changed entry of a batch, clear) takes the
   * next one, in every thread; one that returned before another began has
   * the smaller. Exact up to 2^53 writes. A TypeError on a map made with
   * `revisions: false`.
   */
  get revision(): number {
    return addon.revision(this.#ref)
  }

  /**
   * The revision of the write that gave the entry its value; undefined when
   * absent. A TypeError on a map made with `revisions: false`.
   */
  revisionOf(key: K): number | undefined {
    return addon.revisionOf(this.#ref, key as Wire)
  }

  /** Whether the map keeps revisions (the `revisions` option it was made with). */
  get keepsRevisions(): boolean {
    return this.#info.revisions
  }

  get(key: K): V | undefined {
    if (this.#cache !== null) return this.#getCached(this.#cache, key)
    const inIo = ioKey(this.#ref, this.#numberKeys, key)
    if (this.#numberValues) {
      const found = inIo ? ioGet(ABSENT) : ioGetK(key as Wire, ABSENT)
      return (found === ABSENT ? undefined : io[IO_VALUE]) as V | undefined
    }
    if (this.#codec === null) return (inIo ? ioGet() : ioGetK(key as Wire)) as V | undefined
    return this.#decodeOr(inIo ? ioGetObject(ABSENT, OBJECT_OUT) : ioGetObjectK(key as Wire, ABSENT, OBJECT_OUT))
  }

  // get() through the read cache: no call at all while the entry's stripe
  // still has the write version its copy was read under (lib/read-cache.ts,
  // "Hits without a call"); otherwise one native call that answers
  // UNCHANGED when the entry still has the cached copy's revision.
  #getCached(cache: ReadCache, key: K): V | undefined {
    const slot = cache.find(key)
    const words = this.#versions
    if (slot >= 0 && words !== null && cache.fresh(slot, words)) {
      cache.hits++
      return cache.valueAt(slot) as V
    }
    const inIo = ioKey(this.#ref, this.#numberKeys, key)
    io[IO_REVISION] = slot < 0 ? 0 : cache.revisionAt(slot)
    const found = inIo
      ? ioGetCached(ABSENT, OBJECT_OUT, UNCHANGED)
      : ioGetCachedK(key as Wire, ABSENT, OBJECT_OUT, UNCHANGED)
    // Read before decoding, which may reuse the io buffer.
    const at = io[IO_VERSION_INDEX]
    const low = io[IO_VERSION_LOW]
    const high = io[IO_VERSION_HIGH]
    if (found === UNCHANGED) {
      cache.hits++
      cache.pin(slot, at, low, high)
      return cache.valueAt(slot) as V
    }
    cache.misses++
    if (found === ABSENT) {
      if (slot >= 0) cache.drop(key)
      return undefined
    }
    const revision = io[IO_REVISION]
    const value = this.#numberValues ? io[IO_VALUE] : this.#decode(found)
    return cache.store(key, value, revision, slot, at, low, high) as V
  }

  /**
   * Stores `value`. `options.ttl` (a map made with `ttl`): the entry expires
   * that many ms from now (0: never) instead of after the map's ttl.
   */
  set(key: K, value: V, options?: SetOptions): this {
    // Encode first: a codec may run user code (toJSON), which may use the io
    // buffer. An object the record writer took stays in its output (WRITTEN)
    // and the addon reads it there (ioSetWritten), with no user code between
    // the encode and that call: options' getters run only after it became a
    // view, since they may encode meanwhile.
    let wire = this.#codec === null ? (value as Wire) : this.#codec.encodeHere(value)
    if (options !== undefined) {
      if (wire === WRITTEN) wire = written()
      const ttl = ttlOption(options, 'set(key, value, options)')
      if (ttl !== undefined) {
        addon.setTTL(this.#ref, key as Wire, wire, ttl)
        return this
      }
    }
    const inIo = ioKey(this.#ref, this.#numberKeys, key)
    if (wire === WRITTEN) {
      io[IO_VALUE_OFFSET] = writtenStart()
      io[IO_VALUE] = writtenEnd() - writtenStart()
      if (inIo) ioSetWritten(writtenBuffer())
      else ioSetWrittenK(key as Wire, writtenBuffer())
    } else if (this.#numberValues && typeof wire === 'number') {
      io[IO_VALUE] = wire
      if (inIo) ioSet()
      else ioSetK(key as Wire)
    } else if (inIo) ioSet(wire)
    else ioSetK(key as Wire, wire)
    return this
  }

  has(key: K): boolean {
    return ioKey(this.#ref, this.#numberKeys, key) ? ioHas() : ioHasK(key as Wire)
  }

  delete(key: K): boolean {
    return ioKey(this.#ref, this.#numberKeys, key) ? ioDelete() : ioDeleteK(key as Wire)
  }

  clear(): void {
    addon.clear(this.#ref)
    // Not needed for freshness (every cached revision is now absent), but
    // the memory goes now.
    this.#cache?.clear()
  }

  forEach(callbackfn: (value: V, key: K, map: Map<K, V>) => void, thisArg?: unknown): void {
    if (typeof callbackfn !== 'function') {
      throw new TypeError(`${String(callbackfn)} is not a function`)
    }
    for (const [key, value] of this.entries()) callbackfn.call(thisArg, value, key, this)
  }

  /**
   * With `range` (strategy 'ordered' only): the entries whose keys are in the
   * range, in key order (descending with `reverse`), at most `limit`.
   * Options are checked at the call: TypeError or RangeError.
   */
  entries(range?: RangeOptions<K>): MapIterator<[K, V]> {
    if (this.#ordered) return this.#inOrder(ITER_ENTRIES, range)
    this.#hashOnly(range)
    return this.#entries()
  }

  /** With `range`: the keys of entries(range). */
  keys(range?: RangeOptions<K>): MapIterator<K> {
    if (this.#ordered) return this.#inOrder(ITER_KEYS, range)
    this.#hashOnly(range)
    return this.#keys()
  }

  /** With `range`: the values of entries(range). */
  values(range?: RangeOptions<K>): MapIterator<V> {
    if (this.#ordered) return this.#inOrder(ITER_VALUES, range)
    this.#hashOnly(range)
    return this.#values()
  }

  /** Strategy 'ordered': the entry with the smallest key, or undefined when the map is empty. */
  first(): [K, V] | undefined {
    return this.#edge(false)
  }

  /** Strategy 'ordered': the entry with the largest key, or undefined when the map is empty. */
  last(): [K, V] | undefined {
    return this.#edge(true)
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries()
  }

  get [Symbol.toStringTag](): string {
    return 'ThreadMap'
  }

  // Generators (not a hand-written iterator class) so the iterators inherit
  // from %IteratorPrototype% and get the iterator helpers where the runtime
  // has them, like Map's own; `finally` frees the native cursor on break.
  // One generator each, so that an entry costs one generator resume (a
  // shared generator of chunks would add a second layer).
  get #ordered(): boolean {
    return this.#info.strategy === 'ordered'
  }

  // Range options on a hash map: the addon's TypeError naming 'ordered'.
  #hashOnly(range: RangeOptions<K> | undefined): void {
    if (range !== undefined) addon.range(this.#ref, ITER_KEYS, 1, range as NativeRange)
  }

  #edge(reverse: boolean): [K, V] | undefined {
    const page = addon.range(this.#ref, ITER_ENTRIES, 1, { reverse, limit: 1 })
    return page.length === 0 ? undefined : [page[0] as K, this.#decode(page[1])]
  }

  // An ordered map is read in pages (addon.range), each resuming strictly
  // after the last key the previous one gave (native/addon/range_wrap.hpp
  // says why that sees every key present throughout exactly once). The first
  // page is read at the call, so bad options throw there.
  #inOrder<T>(mode: number, range: RangeOptions<K> = {}): Generator<T, undefined, unknown> {
    return this.#pages<T>(mode, range, addon.range(this.#ref, ITER_ENTRIES, RANGE_PAGE, range as NativeRange))
  }

  *#pages<T>(mode: number, range: RangeOptions<K>, first: Wire[]): Generator<T, undefined, unknown> {
    let left = range.limit ?? Infinity
    for (let page = first; ; ) {
      for (let i = 0; i < page.length; i += 2) {
        if (mode === ITER_KEYS) yield page[i] as T
        else if (mode === ITER_VALUES) yield this.#decode(page[i + 1]) as unknown as T
        else yield [page[i] as K, this.#decode(page[i + 1])] as T
      }
      const given = page.length / 2
      left -= given
      if (given < RANGE_PAGE || left <= 0) return undefined
      const after = page[page.length - 2]
      // `undefined`, the smallest `any` key, ends a full page only in reverse
      // order, where nothing is left after it (as a bound it would mean none).
      if (after === undefined) return undefined
      const { gte, gt, lte, lt, reverse } = range
      const next: NativeRange = reverse
        ? { gte: gte as Wire, gt: gt as Wire, lt: after, reverse, limit: left }
        : { gt: after, lte: lte as Wire, lt: lt as Wire, limit: left }
      page = addon.range(this.#ref, ITER_ENTRIES, RANGE_PAGE, next)
    }
  }

  *#entries(): Generator<[K, V], undefined, unknown> {
    const it = addon.iterate(this.#ref, ITER_ENTRIES)
    try {
      for (let chunk = it.next(); chunk !== null; chunk = it.next()) {
        for (let i = 0; i < chunk.length; i += 2) yield [chunk[i] as K, this.#decode(chunk[i + 1])]
      }
    } finally {
      it.return()
    }
    return undefined
  }

  *#keys(): Generator<K, undefined, unknown> {
    const it = addon.iterate(this.#ref, ITER_KEYS)
    try {
      for (let chunk = it.next(); chunk !== null; chunk = it.next()) {
        for (let i = 0; i < chunk.length; i++) yield chunk[i] as K
      }
    } finally {
      it.return()
    }
    return undefined
  }

  *#values(): Generator<V, undefined, unknown> {
    const it = addon.iterate(this.#ref, ITER_VALUES)
    try {
      for (let chunk = it.next(); chunk !== null; chunk = it.next()) {
        for (let i = 0; i < chunk.length; i++) yield this.#decode(chunk[i])
      }
    } finally {
      it.return()
    }
    return undefined
  }

  // --- batches ----------------------------------------------------------------
  // One native call per BATCH_MAX keys amortises the crossing and lets the
  // core overlap the lookups' cache misses. Every key (and value) is checked
  // before anything changes: a bad element is a TypeError or RangeError naming
  // its index, and the map is left as it was. Batches longer than BATCH_MAX
  // are checked whole (a native dry run per piece) before the first write.

  // Number keys cross as a Float64Array (numbersAsTyped) when the map takes them.
  #batchKeys(input: BatchInput): BatchInput {
    return this.#numberKeys ? numbersAsTyped(input) : input
  }

  /** The value of each key, in order (undefined where a key is absent). */
  getMany(keys: BatchKeys<K>): (V | undefined)[] {
    const input = this.#batchKeys(batchInput('getMany(keys): keys', keys))
    const ref = this.#ref
    const codec = this.#codec
    const missing = codec === null ? undefined : ABSENT
    const out: (Wire | Absent)[] = collect(input, (base, typed, plain) =>
      addon.getMany(ref, base, missing, typed, ...plain),
    )
    if (codec !== null) {
      for (let i = 0; i < out.length; i++) {
        const w = out[i]
        out[i] = w === ABSENT ? undefined : (codec.decode(w as Wire) as Wire)
      }
    }
    return out as (V | undefined)[]
  }

  /** Whether each key is present, in order. */
  hasMany(keys: BatchKeys<K>): boolean[] {
    const input = this.#batchKeys(batchInput('hasMany(keys): keys', keys))
    const ref = this.#ref
    return collect(input, (base, typed, plain) => addon.hasMany(ref, base, typed, ...plain))
  }

  /** Deletes the keys; whether each was present (a repeated key: only its first time), in order. */
  deleteMany(keys: BatchKeys<K>): boolean[] {
    const input = this.#batchKeys(batchInput('deleteMany(keys): keys', keys))
    const ref = this.#ref
    if (input.length > BATCH_MAX) pieces(input, (base, typed, plain) => addon.deleteMany(ref, base, true, typed, ...plain))
    return collect(input, (base, typed, plain) => addon.deleteMany(ref, base, false, typed, ...plain))
  }

  /**
   * Sets every entry, in order (a repeated key ends with its last value):
   * `setMany(entries)` takes [key, value] pairs as `new Map(entries)` does,
   * `setMany(keys, values)` two arrays (or typed arrays) of the same length.
   * Only a full maxMemory can stop it part-way (a RangeError naming the
   * index: the entries before it were set, none from it on).
   */
  setMany(entries: Iterable<readonly [K, V]>, options?: SetOptions): this
  setMany(keys: BatchKeys<K>, values: BatchValues<V>, options?: SetOptions): this
  setMany(
    entriesOrKeys: Iterable<readonly [K, V]> | BatchKeys<K>,
    valuesOrOptions?: BatchValues<V> | SetOptions,
    options?: SetOptions,
  ): this {
    let keyInput: BatchInput
    let valueInput: BatchInput
    // The entries form's second argument is its options; values are an
    // array or a typed array, which options never are.
    const entriesForm =
      valuesOrOptions === undefined || (!Array.isArray(valuesOrOptions) && !ArrayBuffer.isView(valuesOrOptions))
    const values = entriesForm ? undefined : (valuesOrOptions as BatchValues<V>)
    const opts: unknown = entriesForm ? valuesOrOptions : options
    const ttl = ttlOption(opts, 'setMany(..., options)')
    // Checked here too, so that an empty batch refuses a bad one.
    if (ttl !== undefined) addon.checkTTL(this.#ref, ttl, 'setMany(..., { ttl })')
    if (values === undefined) {
      const list = entryList(entriesOrKeys)
      const ks = new Array<unknown>(list.length)
      const vs = new Array<unknown>(list.length)
      for (let i = 0; i < list.length; i++) {
        const entry: unknown = list[i]
        if (typeof entry !== 'object' || entry === null) {
          throw new TypeError(`threadmap: setMany(entries): the entry at index ${i} is not an entry object`)
        }
        ks[i] = (entry as readonly unknown[])[0]
        vs[i] = (entry as readonly unknown[])[1]
      }
      keyInput = ks
      valueInput = vs
    } else {
      keyInput = batchInput('setMany(keys, values): keys', entriesOrKeys)
      valueInput = batchInput('setMany(keys, values): values', values)
      if (keyInput.length !== valueInput.length) {
        throw new RangeError(
          `threadmap: setMany(keys, values): ${keyInput.length} keys but ${valueInput.length} values`,
        )
      }
    }
    keyInput = this.#batchKeys(keyInput)
    const valueType = this.#info.values
    if (valueType === 'number' || valueType === 'any') valueInput = numbersAsTyped(valueInput)
    const codec = this.#codec
    if (codec !== null && Array.isArray(valueInput)) {
      const encoded = new Array<Wire>(valueInput.length)
      for (let i = 0; i < encoded.length; i++) encoded[i] = codec.encode(valueInput[i], i)
      valueInput = encoded
    }
    const ref = this.#ref
    const write = (dryRun: boolean): void => {
      const vs = valueInput
      pieces(keyInput, (base, typedKeys, plainKeys) => {
        const end = base + (typedKeys === undefined ? plainKeys.length : typedKeys.length)
        let typedValues: TypedElements | undefined
        let plainValues: readonly Wire[]
        if (Array.isArray(vs)) {
          typedValues = undefined
          plainValues = base === 0 && end === vs.length ? (vs as readonly Wire[]) : (vs.slice(base, end) as Wire[])
        } else {
          typedValues = (vs as TypedElements).subarray(base, end)
          plainValues = []
        }
        addon.setMany(ref, base, dryRun, ttl, typedKeys, typedValues, ...plainKeys, ...plainValues)
      })
    }
    if (keyInput.length > BATCH_MAX) write(true)
    write(false)
    return this
  }

  // --- atomic operations ------------------------------------------------------

  // --- expiry (ttl) -----------------------------------------------------------------

  /**
   * Milliseconds until the entry expires (lru-cache's getRemainingTTL): 0
   * when the key is absent or expired, Infinity when it has no ttl (and on
   * maps made without `ttl`). Not a use, like peek().
   */
  getRemainingTTL(key: K): number {
    return addon.remainingTTL(this.#ref, key as Wire)
  }

  /**
   * Reclaims every expired entry now, in every stripe (lru-cache's
   * purgeStale; writes reclaim them a few at a time anyway). Returns whether
   * any was, as lru-cache does. Expired entries are invisible either way;
   * size counts them until reclaimed.
   */
  purgeStale(): boolean {
    return addon.purgeStale(this.#ref) > 0
  }

  // The atomic writes take set's options: `options.ttl` (a map made with
  // `ttl`) is the ttl of the value the write stores, in ms (0: never),
  // instead of the map's. A write that stores nothing changes no deadline.
  // A bad ttl, or one on a map made without `ttl`, throws before anything
  // changes (README, Cache: Expiry).

  /**
   * The current value; if the key is absent, sets `value` and returns it. One
   * atomic step. `options.ttl`: the stored value's ttl; a present key keeps
   * its value and its deadline.
   */
  getOrSet(key: K, value: V, options?: SetOptions): V {
    const ttl = ttlOption(options, 'getOrSet(key, value, options)')
    const encoded = this.#encode(value)
    // No ttl: no argument, which the addon then need not look at.
    const wire =
      ttl === undefined
        ? addon.getOrSet(this.#ref, key as Wire, encoded, ABSENT)
        : addon.getOrSet(this.#ref, key as Wire, encoded, ABSENT, ttl)
    return wire === ABSENT ? value : this.#decode(wire)
  }

  /**
   * Sets `value` only if the key is absent; returns whether it did.
   * `options.ttl`: the stored value's ttl; a present key keeps its deadline.
   */
  setIfAbsent(key: K, value: V, options?: SetOptions): boolean {
    const ttl = ttlOption(options, 'setIfAbsent(key, value, options)')
    const wire = this.#encode(value)
    return ttl === undefined
      ? addon.setIfAbsent(this.#ref, key as Wire, wire)
      : addon.setIfAbsent(this.#ref, key as Wire, wire, ttl)
  }

  /**
   * Atomically: if the entry is `expected`, make it `next`; returns whether it
   * did. `undefined` as `expected` means "absent" (for 'any' and 'structured'
   * values it also matches a stored undefined, as get() would); `undefined` as
   * `next` deletes the entry. Values compare by their stored form: JSON text
   * for 'json', the object codec's bytes (lib/codecs.ts: msgpackr records or
   * v8.serialize) for 'structured' and objects in 'any' (use update() for a
   * read-modify-write of such values). `options.ttl`: the ttl of `next` when
   * it is stored (an overwrite keeps the deadline on a map made with
   * noUpdateTTL, as set's does); a failed compareAndSet changes no deadline.
   */
  compareAndSet(key: K, expected: V | undefined, next: V | undefined, options?: SetOptions): boolean {
    const ttl = ttlOption(options, 'compareAndSet(key, expected, next, options)')
    const ref = this.#ref
    const k = key as Wire
    let flags = 0
    let nextWire: Wire = undefined
    if (next === undefined) flags |= CAS_DELETE
    else nextWire = this.#encode(next)
    if (expected !== undefined) return cas(ref, k, this.#encode(expected), nextWire, flags, ttl)
    if (this.#codec === null || !this.#codec.storesUndefined) {
      return cas(ref, k, undefined, nextWire, flags | CAS_EXPECT_ABSENT, ttl)
    }
    // "absent or a stored undefined": two native states, tried one at a time
    // until one matches or the entry holds something else.
    for (;;) {
      if (cas(ref, k, undefined, nextWire, flags | CAS_EXPECT_ABSENT, ttl)) return true
      const wire = addon.get(ref, k, ABSENT)
      if (wire === ABSENT) continue // deleted since: "absent" may match now
      if (this.#decode(wire) !== undefined) return false
      if (cas(ref, k, wire, nextWire, flags, ttl)) return true
    }
  }

  /**
   * Sets `value` and returns the previous value (undefined when there was
   * none). `options.ttl`: the new value's ttl, as set's.
   */
  swap(key: K, value: V, options?: SetOptions): V | undefined {
    const ttl = ttlOption(options, 'swap(key, value, options)')
    const wire = this.#encode(value)
    return this.#decodeOr(
      ttl === undefined
        ? addon.swap(this.#ref, key as Wire, wire, ABSENT)
        : addon.swap(this.#ref, key as Wire, wire, ABSENT, ttl),
    )
  }

  /**
   * The value, like get(), without counting as a use (lru-cache's peek): a
   * map that evicts does not tell its policy, and stats() counts no hit or
   * miss. The same as get() on a map that does not evict.
   */
  peek(key: K): V | undefined {
    return this.#decodeOr(addon.peek(this.#ref, key as Wire, ABSENT))
  }

  /** Removes the entry and returns its value (undefined when there was none). */
  take(key: K): V | undefined {
    return this.#decodeOr(addon.take(this.#ref, key as Wire, ABSENT))
  }

  /**
   * Atomically adds `delta` to a counter and returns the new value; a missing
   * key counts as 0. Values 'number' take number deltas, 'bigint' bigint
   * deltas, 'any' either; a stored value of another type is a TypeError, and
   * a delta, stored bigint or sum outside the signed 64-bit range a
   * RangeError. Nothing changes when it throws. `options.ttl` is the
   * counter's window: the add that creates the counter gives it that ttl,
   * and later adds (with a ttl or not, under noUpdateTTL) keep its deadline,
   * so `add(key, 1, { ttl: 60_000 })` counts over the minute from the first
   * add. An add without a ttl follows the map's rule (a fresh deadline from
   * the map's ttl, unless noUpdateTTL).
   */
  add(key: K, delta: number, options?: SetOptions): number
  add(key: K, delta: bigint, options?: SetOptions): bigint
  add(key: K, delta: number | bigint, options?: SetOptions): number | bigint
  add(key: K, delta: number | bigint, options?: SetOptions): number | bigint {
    if (options !== undefined) {
      const ttl = ttlOption(options, 'add(key, delta, options)')
      if (ttl !== undefined) return addon.add(this.#ref, key as Wire, delta, ttl)
    }
    return ioKey(this.#ref, this.#numberKeys, key) ? ioAdd(delta) : ioAddK(key as Wire, delta)
  }

  /**
   * Read-modify-write: sets the key to `fn(current, key)` and returns it, as an
   * optimistic compare-and-set loop. `fn` runs outside any native lock and may
   * run more than once when other threads write the key meanwhile, so it
   * should be pure. The comparison uses the stored form read before `fn` ran,
   * so it is exact for every value type. `options.ttl`: the stored value's
   * ttl, as compareAndSet's; checked before `fn` runs.
   */
  update(key: K, fn: (current: V | undefined, key: K) => V, options?: SetOptions): V {
    const ref = this.#ref
    const k = key as Wire
    const ttl = ttlOption(options, 'update(key, fn, options)')
    if (ttl !== undefined) addon.checkTTL(ref, ttl, 'update(key, fn, { ttl })')
    for (;;) {
      const wire = addon.get(ref, k, ABSENT)
      const next = fn(this.#decodeOr(wire), key)
      const nextWire = this.#encode(next)
      const done =
        wire === ABSENT
          ? cas(ref, k, undefined, nextWire, CAS_EXPECT_ABSENT, ttl)
          : cas(ref, k, wire, nextWire, 0, ttl)
      if (done) return next
    }
  }

  // --- loading ----------------------------------------------------------------

  /**
   * The key's value; when it is missing, the value `loader` gives, stored
   * with set() before the promise resolves (undefined stores nothing). At
   * most one loader runs for a key at a time across every thread sharing the
   * map: a fetch that finds another thread loading the key waits for that
   * load's value or error (see the README's fetch section: timeouts, a
   * loading thread that dies, close()). `loader` defaults to the fetchMethod
   * option; `fetch(key, options)` works too. Bad arguments, a bad key and a
   * closed map throw at once; everything else arrives through the promise.
   */
  fetch(key: K, loader?: FetchMethod<K, V> | FetchOptions, options?: FetchOptions): Promise<V | undefined> {
    const checkTTL = (ttl: unknown, call: string): void => addon.checkTTL(this.#ref, ttl, call)
    const args = fetchArguments(loader, options, this.#fetchMethod, checkTTL)
    const wire = addon.get(this.#ref, key as Wire, ABSENT)
    if (wire !== ABSENT) return Promise.resolve(this.#decode(wire))
    return fetchMissing(
      {
        native: this.#native,
        id: this.#info.id,
        peek: (k) => {
          const w = addon.get(this.#ref, k as Wire, ABSENT)
          return w === ABSENT ? [false] : [true, this.#decode(w)]
        },
        store: (k, v, ttl) => void this.set(k, v, ttl === undefined ? undefined : { ttl }),
        checkTTL,
        encode: (v) => this.#encode(v),
        decode: (w) => this.#decode(w),
      },
      key,
      args,
    )
  }

  // --- watch and snapshots (lib/watch.ts, lib/snapshot.ts) --------------------

  /**
   * An async iterator of this map's changes, from now or from
   * `fromRevision`, for every key, one key, a list or a prefix (see "Watch"
   * in the README). return() or close() ends it; it keeps no process alive
   * unless `ref` is set.
   */
  watch(options?: WatchOptions<K>): Watcher<K, V> {
    return new Watcher<K, V>(this.#native, (w) => this.#decode(w), options)
  }

  /**
   * A read-only copy of every entry at one revision, refreshed incrementally
   * by refresh() (see "Snapshots" in the README). close() it when done.
   */
  snapshot(options?: SnapshotOptions): Snapshot<K, V> {
    return new Snapshot<K, V>(this.#native, (w) => this.#decode(w), options)
  }

  // --- sharing and lifetime ---------------------------------------------------

  /** A plain, cloneable description of this map for ThreadMap.attach() in another thread. */
  handle(): ThreadMapHandle {
    if (addon.isClosed(this.#ref)) throw new Error(`threadmap: map ${this.#info.id} is closed`)
    const { id, keys, values, strategy } = this.#info
    return { threadmap: 1, id, keys, values, strategy }
  }

  /** The map's id in this process (what handles carry). */
  get id(): number {
    return this.#info.id
  }

  get keyType(): KeyTypeName {
    return this.#info.keys
  }

  get valueType(): ValueTypeName {
    return this.#info.values
  }

  get strategy(): StrategyName {
    return this.#info.strategy
  }

  /** Whether the map was closed (by any thread). */
  get closed(): boolean {
    return addon.isClosed(this.#ref)
  }

  stats(): ThreadMapStats {
    const st = addon.stats(this.#ref)
    const c = this.#cache
    if (c !== null) st.readCache = { limit: c.limit, size: c.size, hits: c.hits, misses: c.misses }
    return st
  }

  /**
   * Frees the map at once, for every thread: later calls on it from any
   * thread throw an Error. Calling close() again does nothing.
   */
  close(): void {
    addon.close(this.#ref)
    this.#cache?.clear()
  }

  [Symbol.dispose](): void {
    this.close()
  }

  /** console.log and util.inspect show the entries as for a Map (at most 100). */
  [inspect.custom](depth: number, options: InspectOptions): string {
    const { id, keys, values, strategy } = this.#info
    if (addon.isClosed(this.#ref)) return `ThreadMap <closed> { id: ${id} }`
    const shown = new Map<K, V>()
    for (const [k, v] of this.entries()) {
      if (shown.size === 100) break
      shown.set(k, v)
    }
    const size = this.size
    const body = depth < 0 ? '[ThreadMap]' : inspect(shown, { ...options, depth: options.depth == null ? null : depth })
    const more = size > shown.size ? ` (${size - shown.size} more)` : ''
    return `ThreadMap(${size}) <${strategy} ${keys} => ${values}, id ${id}> ${body.replace(/^Map\(\d+\) /, '')}${more}`
  }
}

export default ThreadMap
