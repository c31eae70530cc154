// The one typed contract of everything the native addon exports
// (native/addon/*.cpp). Nothing else in lib/ touches the addon's untyped
// surface, so a change on the C++ side shows up here, in one place.

import { createRequire } from 'node:module'
import * as path from 'node:path'
import { markAsUntransferable } from 'node:worker_threads'

// The name lists. Each has one source in native code (the codec table in
// native/addon/codec.cpp, the core's threadmap::all_strategies), which the
// addon exports as constants.KEY_TYPES, VALUE_TYPES and STRATEGIES and from
// which its error messages are made. These tuples mirror them for the
// types; test/js/names.test.ts fails when a mirror and its source differ.
/** Key type names, in the codec table's order. */
export const KEY_TYPE_NAMES = ['string', 'number', 'bigint', 'bytes', 'any'] as const
export type KeyTypeName = (typeof KEY_TYPE_NAMES)[number]
/** Value type names, in the codec table's order. */
export const VALUE_TYPE_NAMES = ['string', 'number', 'bigint', 'boolean', 'bytes', 'json', 'structured', 'any'] as const
export type ValueTypeName = (typeof VALUE_TYPE_NAMES)[number]
/** Strategy names, in the core's enum order. */
export const STRATEGY_NAMES = ['mutex', 'striped', 'rwlock', 'readmostly', 'lockfree', 'ordered'] as const
export type StrategyName = (typeof STRATEGY_NAMES)[number]
/** What options.strategy accepts: a strategy, or 'auto' to let threadmap pick. */
export type StrategyOption = StrategyName | 'auto'

/**
 * A value as it crosses the boundary. Keys and primitive values cross as
 * themselves; json values as their JSON text; structured values (and objects
 * inside `any` values) as the object codec's bytes (msgpackr records or
 * v8.serialize: lib/codecs.ts).
 */
export type Wire = string | number | bigint | boolean | Uint8Array | null | undefined

/**
 * Where a map's tables go on a NUMA machine; mirrors threadmap::numa::policy.
 * 'local': each stripe's table on the node of the thread that creates or
 * grows it; 'interleave': page by page over every node with memory; 'none':
 * the kernel's default (first touch); { node }: bound to that node.
 */
export type NumaOption = 'local' | 'interleave' | 'none' | { node: number }

export interface NativeMapOptions {
  keys?: KeyTypeName
  values?: ValueTypeName
  strategy?: StrategyOption
  capacity?: number
  maxMemory?: number
  maxEntries?: number
  evict?: EvictOption
  ttl?: number
  noUpdateTTL?: boolean
  numa?: NumaOption
}

/** The eviction policies; mirrors threadmap::all_eviction_kinds. */
export const EVICTION_NAMES = ['wtinylfu', 'clock'] as const
export type EvictionName = (typeof EVICTION_NAMES)[number]
/** options.evict: a policy, or 'none' (a full map refuses writes). */
export type EvictOption = EvictionName | 'none'

/** stats().eviction: the policies of a map that evicts (zeros and 'none' otherwise). */
export interface EvictionStats {
  policy: EvictionName | 'none'
  /** The bound: entries the policies hold at most, over all stripes. */
  maxEntries: number
  /** W-TinyLFU: window candidates admitted to the main region. */
  admissions: number
  /** W-TinyLFU: candidates evicted instead of a main-region entry. */
  rejections: number
  /** Reads the lossy read buffers dropped (the policy saw the rest). */
  droppedReads: number
  /** The policies' memory, counted in bytes and against maxMemory. */
  bytes: number
}

export interface NativeInfo {
  id: number
  keys: KeyTypeName
  values: ValueTypeName
  strategy: StrategyName
  /** This thread's reference to the map: the first argument of every map function. */
  ref: MapRef
  /** The readCache option the map was made with (0: none). */
  readCache: number
  /** The revisions option the map was made with. */
  revisions: boolean
}

/**
 * What happened to one table's memory; mirrors threadmap::numa::outcome, plus
 * 'empty' for a stripe that has no table yet.
 */
export type NumaPlacement =
  | 'empty'
  | 'default'
  | 'bound'
  | 'partial'
  | 'heap'
  | 'skipped'
  | 'unsupported'
  | 'failed'

/** One stripe's (or table's) memory placement, as stats().numa.tables reports it. */
export interface NumaTableStats {
  /**
   * Which table: the stripe (striped, mutex, rwlock); 0 the head table and 1..
   * migration targets while a migration runs (lockfree); 0 the read table and
   * 1 the dirty table while there is one (readmostly).
   */
  table: number
  /** Bytes of the table's array (0: no table yet). */
  bytes: number
  /** The node the kernel says the table's first page is on (get_mempolicy), -1 if unknown. */
  node: number
  /** The node the policy chose ('local' and { node }), -1 for 'none' and 'interleave'. */
  assignedNode: number
  placement: NumaPlacement
  /** Why, for anything other than 'bound' and 'default'. */
  reason?: string
  /** The kernel's policy for the table's pages: 'default', 'preferred', 'bind', 'interleave', ... */
  kernelPolicy?: string
  /** The nodes of that policy. */
  kernelNodes?: number[]
  /** The kernel's error, when it refused the policy or the read-back. */
  error?: string
}

export interface NumaStats {
  policy: 'local' | 'interleave' | 'none' | 'node'
  /** The node of policy 'node'. */
  node?: number
  /** The topology is simulated (THREADMAP_SYSFS_ROOT): nodes this machine lacks are skipped. */
  simulated: boolean
  /** Whether the strategy reported tables (every strategy does; false: reason says why). */
  applied: boolean
  reason?: string
  tables: NumaTableStats[]
}

/** What stats() returns (the addon builds it; lib/types.ts names it ThreadMapStats). */
export interface NativeStats {
  /** Entries (exact when no write is in flight). */
  size: number
  strategy: StrategyName
  /** Independent locks and tables (1 for 'mutex'). */
  stripes: number
  /** Slots allocated over all tables. */
  capacity: number
  /** Bytes of tables and out-of-line entries, as counted against maxMemory. */
  bytes: number
  /** Table reallocations so far. */
  resizes: number
  /** The configured limit; 0 is unlimited. */
  maxMemory: number
  /** The NUMA policy and, per stripe, the node the kernel says its table is on. */
  numa: NumaStats
  /** fetch's loads, counted by the map for every thread (threadmap::load_stats). */
  loads: LoadStats
  /** Maps that evict: gets that found their key (peek and has are not counted). */
  hits: number
  /** Maps that evict: gets that did not. */
  misses: number
  /** Entries removed to make room (maxEntries or maxMemory). */
  evictions: number
  /** Maps with a ttl: expired entries reclaimed (by writes' sweeps, writes of their key, purgeStale). */
  expirations: number
  eviction: EvictionStats
  /** The map's change log (watch and snapshots); zeros when nothing watches it. */
  watch: WatchStats
  /**
   * This thread's read cache of the map (lib/index.ts adds it; absent
   * without the readCache option): its size limit, entries, and the gets it
   * answered from a cached value (hits) or with a fresh one (misses).
   */
  readCache?: { limit: number; size: number; hits: number; misses: number }
}

/** stats().watch: the map's change log (threadmap::change_log::counters), for every thread. */
export interface WatchStats {
  /** Open watches (map.watch), in every thread. */
  watchers: number
  /** Open snapshots (each keeps the map watched). */
  snapshots: number
  /** The event buffer's bound: the largest bufferBytes an open watch or snapshot asked for (0: not watched). */
  bufferBytes: number
  /** Bytes the buffered events take now (counted against bufferBytes). */
  bytes: number
  /** Events buffered now. */
  events: number
  /** The oldest revision a new watch can start from (fromRevision); 0 while not watched. */
  oldestRevision: number
  /** Events logged since the map was made. */
  appended: number
  /** Events the bound pushed out (or that could not be kept: out of memory). */
  dropped: number
  /** WatchCompactedErrors given: watches that fell behind (once each) and fromRevision refused; a snapshot that fell behind counts here too (it copies again). */
  compactedErrors: number
}

/** stats().loads: fetch's loads since the map was made, over every thread. */
export interface LoadStats {
  /** Loads whose loader returned (a value, or undefined: nothing stored). */
  successes: number
  /** Loads whose loader threw or rejected (or whose value could not be stored). */
  failures: number
  /** Loads that did not settle within their timeout. */
  timeouts: number
  /** Loads whose thread went away mid-load (worker.terminate()); a waiter took over. */
  abandoned: number
  /** Fetches that waited for another fetch's load instead of loading. */
  waits: number
  /** Milliseconds from claim to settle, summed over successes and failures. */
  time: number
}

export interface NumaNode {
  id: number
  /** CPU numbers, ascending. */
  cpus: number[]
  /** The node's MemTotal (0: no memory, or not reported). */
  memoryBytes: number
}

export interface NumaTopology {
  /** Ascending ids; never empty. */
  nodes: NumaNode[]
  /** The sysfs directory read. */
  source: string
  /** Read from $THREADMAP_SYSFS_ROOT rather than /sys. */
  simulated: boolean
  /** What was malformed; `nodes` is then one node with every online CPU. */
  error?: string
}

/** native/addon/numa_wrap.cpp: all of it acts on or reports the calling thread. */
export interface NativeNuma {
  topology(): NumaTopology
  /** -1 when unknown. */
  currentCpu(): number
  /** -1 when unknown. */
  currentNode(): number
  /** Pins the calling thread; returns the CPUs it could run on before. */
  pinThread(cpus: number | readonly number[]): number[]
  parsePolicy(text: string): NumaOption
}

/**
 * The native map object: no methods, only a lifetime. While it is reachable
 * its reference (info(map).ref) is valid in this thread; when it is
 * collected, or its thread ends, the thread's hold on the shared map ends.
 */
export interface NativeMap {
  readonly __nativeMap?: never
}

/** A map reference: valid only in the thread that got it from info(). */
export type MapRef = number

/** The bounds of a range iteration over an ordered map: keys of its key type. */
export interface NativeRange {
  gte?: Wire
  gt?: Wire
  lte?: Wire
  lt?: Wire
  reverse?: boolean
  limit?: number
}

/** Chunked iteration; see native/addon/iterator_wrap.hpp. */
export interface NativeIterator {
  /** Up to one chunk: keys, values, or flattened [key, value] pairs; null at the end. */
  next(): Wire[] | null
  return(): void
}

export interface NativeConstants {
  readonly CAS_EXPECT_ABSENT: number
  readonly CAS_DELETE: number
  readonly ITER_KEYS: number
  readonly ITER_VALUES: number
  readonly ITER_ENTRIES: number
  readonly MAX_KEY_BYTES: number
  readonly MAX_VALUE_BYTES: number
  /** The most keys one batch call (getMany, ...) takes; longer batches are split. */
  readonly BATCH_MAX: number
  /** The strategies of this build, in the core's enum order. */
  readonly STRATEGIES: readonly StrategyName[]
  /** The key and value types, in the codec table's order. */
  readonly KEY_TYPES: readonly KeyTypeName[]
  readonly VALUE_TYPES: readonly ValueTypeName[]
}

/** native/addon/io_protocol.hpp's constants, as the addon exports them. */
export interface NativeIoLayout {
  /** The Float64Array index of the map reference, of a number key, of a number value. */
  readonly ref: number
  readonly key: number
  readonly value: number
  /** The read cache's: the revision of its copy (in) and the entry's (out). */
  readonly revision: number
  /**
   * The read cache's get leaves where its read lies: the Int32 index of the
   * low half of the key's write version in readVersions' buffer, and the
   * halves the version had around the read (none: 1 and -1, a version no
   * word reaches).
   */
  readonly versionIndex: number
  readonly versionLow: number
  readonly versionHigh: number
  /** ioSetWritten's: where the value's bytes begin in its ArrayBuffer (their length: `value`). */
  readonly valueOffset: number
  /** The buffer's length in doubles. */
  readonly slots: number
  /** What the reference slot holds between calls. */
  readonly noRef: number
  /** The key types whose number keys travel in the buffer (the TypeScript layer reads this). */
  readonly numberKeys: readonly KeyTypeName[]
  /** The value types whose values travel in the buffer (the TypeScript layer reads this). */
  readonly numberValues: readonly ValueTypeName[]
}

/** Typed arrays a batch call reads in place: number keys (or values), or bigint ones. */
export type TypedElements = Float64Array | BigInt64Array | BigUint64Array

/**
 * Everything the addon exports. Functions that may find no entry take a
 * `missing` marker and return it in that case, because `undefined` is a
 * storable value of `any` and `structured` maps.
 */
export interface Addon {
  NativeMap: new (options?: NativeMapOptions) => NativeMap
  /** The map with this id; an Error when no live map has it. */
  attach(id: number): NativeMap
  /** Maps registered in this process and not yet freed. */
  liveMaps(): number
  constants: NativeConstants
  numa: NativeNuma
  /** This thread's io buffer; lib code reaches it through `io` below. */
  io: ArrayBuffer
  /** The io buffer's layout and which types' numbers travel in it (IO_LAYOUT mirrors the layout). */
  ioLayout: NativeIoLayout

  /** TypeError unless `map` is a NativeMap of this addon. */
  info(map: NativeMap): NativeInfo
  get<M = undefined>(ref: MapRef, key: Wire, missing?: M): Wire | M
  // The atomic writes' last argument `ttl`: undefined for the map's ttl,
  // else the write's own, checked as setTTL checks it.
  setIfAbsent(ref: MapRef, key: Wire, value: Wire, ttl?: unknown): boolean
  /** The current value, or `missing` when `value` was inserted. */
  getOrSet<M = undefined>(ref: MapRef, key: Wire, value: Wire, missing?: M, ttl?: unknown): Wire | M
  /** flags: constants.CAS_EXPECT_ABSENT ignores `expected`, CAS_DELETE ignores `next`. */
  compareAndSet(ref: MapRef, key: Wire, expected: Wire, next: Wire, flags: number, ttl?: unknown): boolean
  swap<M = undefined>(ref: MapRef, key: Wire, value: Wire, missing?: M, ttl?: unknown): Wire | M
  /** ioAddK's add with a ttl of its own (the counter's window when it creates the counter). */
  add(ref: MapRef, key: Wire, delta: number, ttl: unknown): number
  add(ref: MapRef, key: Wire, delta: bigint, ttl: unknown): bigint
  add(ref: MapRef, key: Wire, delta: number | bigint, ttl: unknown): number | bigint
  take<M = undefined>(ref: MapRef, key: Wire, missing?: M): Wire | M
  /** get that is not a use: records no read with the eviction policy, counts no hit or miss. */
  peek<M = undefined>(ref: MapRef, key: Wire, missing?: M): Wire | M
  /** set whose entry expires `ttl` ms from now (0: never); a TypeError on a map without options.ttl. */
  setTTL(ref: MapRef, key: Wire, value: Wire, ttl: unknown): boolean
  /** Throws what setTTL would for `ttl` (TypeError, RangeError; `call` names the API in the message). */
  checkTTL(ref: MapRef, ttl: unknown, call: string): void
  /** lru-cache's getRemainingTTL: ms left, 0 when absent or expired, Infinity for no deadline. */
  remainingTTL(ref: MapRef, key: Wire): number
  /** Reclaims every expired entry now; how many. */
  purgeStale(ref: MapRef): number
  /**
   * TESTING ONLY, not part of the package's API: stops the clock of the map
   * with this id (a map with options.ttl) on the first call and moves it
   * `ms` on, for every thread.
   */
  testAdvanceClock(id: number, ms: number): void
  size(ref: MapRef): number
  /** The map's latest revision (threadmap/detail/revision.hpp); exact up to 2^53. */
  revision(ref: MapRef): number
  /** The entry's revision, or undefined when the key is absent. */
  revisionOf(ref: MapRef, key: Wire): number | undefined
  /**
   * The map's write versions (native/addon/io_protocol.hpp, "Write
   * versions"), to view as an Int32Array and read with Atomics.load only;
   * undefined when the map keeps none or they cannot be shared (then every
   * read-cache get makes its call).
   */
  readVersions(ref: MapRef): ArrayBuffer | undefined
  clear(ref: MapRef): void
  stats(ref: MapRef): NativeStats
  /** True when this call closed the map (false: it was closed already). */
  close(ref: MapRef): boolean
  isClosed(ref: MapRef): boolean
  /** mode: constants.ITER_KEYS / ITER_VALUES / ITER_ENTRIES; chunk: entries per next(). */
  iterate(ref: MapRef, mode: number, chunk?: number): NativeIterator
  /**
   * Strategy 'ordered': the first `max` (1 to 4096) entries of `range`, one
   * page shaped as iterate's chunks (native/addon/range_wrap.hpp); a
   * TypeError on any other map.
   */
  range(ref: MapRef, mode: number, max: number, range?: NativeRange): Wire[]

  // The io functions: get, has, set, delete and add with the map reference,
  // and number keys and values, in this thread's io buffer (`io` below),
  // written just before the call; the protocol is native/addon/io_protocol.hpp.
  ioGet<M = undefined>(missing?: M): Wire | M
  ioHas(): boolean
  ioSet(value?: Wire): boolean
  ioDelete(): boolean
  ioAdd(delta: number): number
  ioAdd(delta: bigint): bigint
  ioAdd(delta: number | bigint): number | bigint
  ioGetK<M = undefined>(key: Wire, missing?: M): Wire | M
  ioHasK(key: Wire): boolean
  ioSetK(key: Wire, value?: Wire): boolean
  // set of an object the record writer left in its output (lib/codecs.ts,
  // WRITTEN): its bytes are buffer[io valueOffset, + io value), read in place
  // (io_protocol.hpp, "Objects in").
  ioSetWritten(buffer: ArrayBuffer): boolean
  ioSetWrittenK(key: Wire, buffer: ArrayBuffer): boolean
  ioDeleteK(key: Wire): boolean
  ioAddK(key: Wire, delta: number): number
  ioAddK(key: Wire, delta: bigint): bigint
  ioAddK(key: Wire, delta: number | bigint): number | bigint
  // ioGet/ioGetK for maps with a value codec: `out` (OBJECT_OUT, lib/codecs.ts)
  // may come back for an object left in the object buffer (io_protocol.hpp,
  // "objects out"), which objectOut() returns, the same one on every call.
  ioGetObject<M = undefined, O = never>(missing?: M, out?: O): Wire | M | O
  ioGetObjectK<M = undefined, O = never>(key: Wire, missing?: M, out?: O): Wire | M | O
  // The read cache's get (io_protocol.hpp, "Read cache"): the io buffer's
  // revision slot holds the revision of the cached copy (0: none); `unchanged`
  // is returned when the entry still has it, else the value as ioGetObject
  // answers it, with the entry's revision left in the slot.
  ioGetCached<M, O, U>(missing: M, out: O, unchanged: U): Wire | M | O | U
  ioGetCachedK<M, O, U>(key: Wire, missing: M, out: O, unchanged: U): Wire | M | O | U
  objectOut(): ArrayBuffer

  // Batches of at most constants.BATCH_MAX keys: from `typed` when it is not
  // undefined, else from the spread arguments. `base` is the index of the
  // first key in the caller's whole batch, for error messages. Every key (and
  // value) is encoded and checked before the map is touched; a dry run only
  // encodes and checks, so a caller can check a long batch whole before it
  // writes any part of it.
  /** The values in key order; `missing` for absent keys. */
  getMany<M = undefined>(ref: MapRef, base: number, missing: M, typed: TypedElements | undefined, ...keys: Wire[]): (Wire | M)[]
  hasMany(ref: MapRef, base: number, typed: TypedElements | undefined, ...keys: Wire[]): boolean[]
  /** Whether each key was present (and deleted by this call). */
  deleteMany(ref: MapRef, base: number, dryRun: false, typed: TypedElements | undefined, ...keys: Wire[]): boolean[]
  deleteMany(ref: MapRef, base: number, dryRun: true, typed: TypedElements | undefined, ...keys: Wire[]): undefined
  /**
   * rest: the keys that are not typed, then the values that are not typed;
   * ttl: every entry's (as setTTL's), undefined for the map's own.
   */
  setMany(
    ref: MapRef,
    base: number,
    dryRun: boolean,
    ttl: unknown,
    typedKeys: TypedElements | undefined,
    typedValues: TypedElements | undefined,
    ...rest: Wire[]
  ): undefined
}

// lib/native.ts compiles to dist/native.js; both sit one level below the
// package root, where node-gyp-build looks in build/Release first (a
// checkout's own build) and then in prebuilds/<platform>-<arch>/ (the
// binaries the package ships; PREBUILDS_ONLY=1 skips build/Release).
const root = path.resolve(__dirname, '..')
const requireHere = createRequire(path.join(root, 'package.json'))

/** The platforms the package ships a prebuilt binary for (scripts/prebuild.js). */
const PREBUILT = 'linux-x64 and linux-arm64 (glibc >= 2.28, musl), darwin-x64, darwin-arm64, win32-x64'
/** Builds the addon inside an installed package (package.json "build-from-source"). */
const BUILD_FROM_SOURCE = 'npm explore threadmap -- npm run build-from-source'

function libcName(): string {
  if (process.platform !== 'linux') return 'n/a'
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined
  const glibc = report?.header?.glibcVersionRuntime
  return glibc ? `glibc ${glibc}` : 'musl (no glibc found)'
}

function load(): Addon {
  const nodeGypBuild = requireHere('node-gyp-build') as (dir: string) => unknown
  let raw: Partial<Addon> | null
  try {
    raw = nodeGypBuild(root) as Partial<Addon> | null
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('No native build was found')) throw err
    throw new Error(
      `threadmap: no native binary for this platform: ${process.platform}-${process.arch}, libc ${libcName()} ` +
        `(Node ${process.versions.node}). The package ships binaries for ${PREBUILT}. ` +
        `To build one from source (needs cmake >= 3.20, a C++20 compiler and ninja or make), run: ${BUILD_FROM_SOURCE}`,
      { cause: err },
    )
  }
  if (
    raw === null ||
    typeof raw !== 'object' ||
    typeof raw.NativeMap !== 'function' ||
    typeof raw.attach !== 'function' ||
    typeof raw.liveMaps !== 'function' ||
    typeof raw.info !== 'function' ||
    typeof raw.iterate !== 'function' ||
    typeof raw.getMany !== 'function' ||
    typeof raw.ioLayout !== 'object' ||
    typeof raw.constants !== 'object'
  ) {
    throw new Error(
      `threadmap: the native addon loaded from ${root} does not match this version of the ` +
        'JavaScript layer; rebuild it (npm run build:native)',
    )
  }
  return raw as Addon
}

/**
 * This thread's io buffer: a Float64Array laid out as IO_LAYOUT says. The
 * protocol (who writes which slot when, and why it is safe) is
 * native/addon/io_protocol.hpp.
 */
export type IoBuffer = Float64Array

/**
 * The io buffer's layout: the TypeScript copy of io_protocol.hpp's constants,
 * so the hot path indexes the buffer without reading the addon's exports;
 * test/js/io-protocol.test.ts fails when it and the addon's ioLayout differ.
 */
export const IO_LAYOUT = Object.freeze({
  ref: 0,
  key: 1,
  value: 2,
  revision: 3,
  versionIndex: 4,
  versionLow: 5,
  versionHigh: 6,
  valueOffset: 7,
  slots: 8,
  noRef: -1,
} as const)

export const addon: Addon = load()

/**
 * Native code keeps a pointer into the io buffer, so it must never be
 * detached: it is marked untransferable (postMessage and structuredClone then
 * copy it instead). Every copy of this module in the process (the compiled
 * one, the TypeScript sources under a test runner) shares the one addon and
 * so the one buffer per thread; it is not part of the public API.
 */
export const io: IoBuffer = (() => {
  const buffer: unknown = addon.io
  if (!(buffer instanceof ArrayBuffer)) throw new Error('threadmap: the native addon has no io buffer; rebuild it')
  markAsUntransferable(buffer)
  return new Float64Array(buffer, 0, IO_LAYOUT.slots)
})()

/** How a load ended (threadmap::load_outcome), as loadClaim's onEnd and loadSettle name it. */
export interface NativeLoadOutcomes {
  readonly value: number
  readonly none: number
  readonly error: number
  readonly released: number
  readonly abandoned: number
  readonly timedOut: number
  readonly closed: number
}

/** fetch's load table (native/addon/loads_wrap.hpp has the protocol). */
export interface Addon {
  loadOutcomes: NativeLoadOutcomes
  /**
   * Claims `key` in the map's load table: [0, claimId, 0] when this thread
   * loads (claimId for loadSettle), [1, waitId, msLeft] when it waits for
   * another load (msLeft: that load's time to its deadline). onEnd(kind,
   * payload) runs once on this thread's event loop: for a waiter when the
   * load ends, for the owner only when the map is closed.
   */
  loadClaim(
    map: NativeMap,
    key: Wire,
    timeoutMs: number,
    onEnd: (kind: number, payload: unknown) => void,
  ): [role: number, id: number, msLeft: number]
  /** Ends this thread's load; payload: the value (kind value), the error's bytes (kind error). */
  loadSettle(claimId: number, kind: number, payload?: Wire): boolean
  /** Stops waiting; false when the wait had ended. */
  loadCancel(waitId: number): boolean
}

/**
 * The object codec's structure list of a map (native/addon/structures_wrap.cpp,
 * threadmap::structure_list): append-only bytes with a version that counts
 * appends. Both are the Error of a closed map when it is closed.
 */
export interface Addon {
  /** [version, every append's bytes in order]. */
  structuresRead(map: NativeMap): [version: number, bytes: Uint8Array]
  /** Appends `bytes` if the list is still at `version`; false (and nothing changed) if not. */
  structuresAppend(map: NativeMap, version: number, bytes: Uint8Array): boolean
}

/** Watch and snapshots (native/addon/watch_wrap.hpp has the shapes). */
export interface Addon {
  /** The event types' names in the core's order (threadmap::event_kind). */
  readonly watchEvents: readonly string[]
  /** [id, revision], or [-1, oldest] when fromRevision is no longer buffered. */
  watchOpen(
    map: NativeMap,
    mode: number,
    filter: unknown,
    fromRevision: number | undefined,
    bufferBytes: number | undefined,
    onReady: () => void,
  ): [id: number, revision: number]
  /** Flat [type, key, value, revision, ...]; a number: compacted (the oldest revision); null: closed. */
  watchRead(id: number, max: number): Wire[] | number | null
  watchRef(id: number, ref: boolean): void
  watchClose(id: number): boolean
  snapshotOpen(map: NativeMap, bufferBytes: number | undefined, eager: boolean | undefined): number
  snapshotGet(id: number, key: Wire, missing: symbol): Wire | symbol
  snapshotHas(id: number, key: Wire): boolean
  snapshotSize(id: number): number
  snapshotRevision(id: number): number
  snapshotRefresh(id: number): boolean
  snapshotStats(id: number): {
    refreshes: number
    fullCopies: number
    eventsApplied: number
    retries: number
    revision: number
    size: number
    lazy: boolean
    bytes: number
  }
  /** [next position (unit * 2^32 + bucket) or -1, generation, ...entries flat as iterate's chunks]. */
  snapshotChunk(id: number, mode: number, position: number, max: number): Wire[]
  snapshotClose(id: number): boolean
}
