// The value transforms that belong in JavaScript: JSON text, and objects as
// bytes. Primitive keys and values are encoded natively
// (native/addon/codec.cpp); these only turn the values native code cannot
// read into bytes or text.
//
// Objects (under 'any', and every value under 'structured') keep
// v8.serialize's meaning: what a get returns is what
// v8.deserialize(v8.serialize(value)) would be. Two encoders make the bytes:
// - msgpackr with record structures, for plain data: objects whose prototype
//   is Object.prototype or null, dense arrays, strings, numbers, bigints,
//   booleans, null, undefined and Dates, as a tree. It decodes several times
//   faster than v8.deserialize (docs/benchmarks.md, "Objects"). A record
//   names its field list by a position in the map's structure list, which is
//   kept natively with the map (registry.hpp, structure_list) so every thread
//   decodes what any thread encoded.
// - v8.serialize for everything else: Map, Set, typed arrays, RegExp, Error,
//   boxed primitives, class instances, shared references and cycles, sparse
//   arrays, -0, lone surrogates, and any value msgpackr would not give back
//   exactly (see fitsRecords). v8.serialize's output begins with its version
//   tag 0xFF; msgpackr's encoding of an object or array never does (a record
//   reference is 0x40-0x7F, a record definition or extension 0xC7-0xD8, an
//   array 0x90-0x9F or 0xDC-0xDD), so the first byte says which decoder
//   reads a value, with no tag of our own.

import * as v8 from 'node:v8'
import { types } from 'node:util'
import { markAsUntransferable } from 'node:worker_threads'

import type { Options as PackrOptions, Packr } from 'msgpackr'

import { addon, io, IO_LAYOUT, type NativeMap, type ValueTypeName, type Wire } from './native'

/**
 * What ioGetObject/ioGetObjectK answer, when given it, for an object whose bytes they
 * left in this thread's object buffer (native/addon/io_protocol.hpp,
 * "objects out"); a ValueCodec's decode takes it for those bytes.
 */
export const OBJECT_OUT: unique symbol = Symbol('threadmap.objectOut')
export type ObjectOut = typeof OBJECT_OUT

export interface ValueCodec {
  /** `index`: the value's place in a batch, for error messages. */
  encode(value: unknown, index?: number): Wire
  decode(wire: Wire | ObjectOut): unknown
  /** Whether `undefined` is a storable value (and so not the same as "absent"). */
  readonly storesUndefined: boolean
}

/** "value", or "value at index 7" for an element of a batch. */
function valueName(index: number | undefined): string {
  return index === undefined ? 'value' : `value at index ${index}`
}

function serialize(value: unknown, index?: number): Uint8Array {
  try {
    return v8.serialize(value)
  } catch (err) {
    // v8 throws a DataCloneError (a plain Error) for functions, symbols and
    // the like; to the caller it is a value of the wrong type.
    const why = err instanceof Error ? err.message : String(err)
    throw new TypeError(`threadmap: ${valueName(index)} cannot be stored (v8.serialize: ${why})`, { cause: err })
  }
}

const json: ValueCodec = {
  encode(value, index) {
    let text: unknown
    try {
      text = JSON.stringify(value)
    } catch (err) {
      // Circular structures and bigints: V8's TypeError, with the batch index.
      if (!(err instanceof TypeError) || index === undefined) throw err
      throw new TypeError(`threadmap: ${valueName(index)} must be JSON-serializable: ${err.message}`, { cause: err })
    }
    if (typeof text !== 'string') {
      throw new TypeError(
        `threadmap: ${valueName(index)} must be JSON-serializable (this map's values are 'json'), got ${typeof value}`,
      )
    }
    return text
  },
  decode(wire) {
    return JSON.parse(wire as string) as unknown
  },
  storesUndefined: false,
}

// --- which values msgpackr gives back exactly ---------------------------------

/** v8.serialize's version tag, the first byte of everything it writes. */
const V8_TAG = 0xff
// Deeper values go to v8.serialize: the check recurses, and so does msgpackr.
const MAX_DEPTH = 64
// So do objects whose field names add up to more characters: the map keeps
// up to MAX_SHARED_STRUCTURES field lists for good (outside maxMemory, see
// README), which this keeps small.
const MAX_KEY_CHARS = 1024

// ES2024's String.prototype.isWellFormed (Node 20+), which lib ES2022 does not type.
const isWellFormed = (String.prototype as unknown as { isWellFormed(this: string): boolean }).isWellFormed

// Objects met by the current fitsRecords walk: a second meeting is a shared
// reference or a cycle, which only v8.serialize keeps. The first few are
// scanned in an array (clearing a Set allocates a new table, which cost more
// than the scan for objects of a few parts); a Set takes the rest.
const SCAN_MAX = 16
const seenFirst: object[] = []
const seenMore = new Set<object>()
// True while this thread walks or encodes a value (see ObjectCodec.encode).
let encoding = false

function meet(o: object): boolean {
  const n = seenFirst.length
  for (let i = 0; i < n; i++) if (seenFirst[i] === o) return false
  if (n < SCAN_MAX) {
    seenFirst.push(o)
    return true
  }
  if (seenMore.has(o)) return false
  seenMore.add(o)
  return true
}

/**
 * Whether msgpackr (records, moreTypes) decodes `value` to exactly what
 * v8.deserialize(v8.serialize(value)) gives. Every value it accepts is a tree
 * of: null, undefined, booleans, bigints, numbers other than -0 (msgpackr
 * writes -0 as the integer 0), well-formed strings (msgpackr writes UTF-8,
 * which has no lone surrogates), Dates, dense arrays with no other own
 * enumerable properties (Object.keys counts holes and extras at once),
 * and objects whose prototype is Object.prototype (with no own
 * `constructor` or `toJSON`, which msgpackr consults) or null, with no
 * field named `__proto__` (msgpackr renames it) or `__keys__` (a name
 * msgpackr's structure index uses itself), at most MAX_KEY_CHARS characters
 * of field names, and no Proxy (v8 refuses one).
 * Getters run here and again when msgpackr reads the value. Exported for
 * the property tests' model of stored forms only.
 *
 * @internal
 */
export function fitsRecords(value: object): boolean {
  encoding = true
  try {
    return fits(value, 0)
  } finally {
    seenFirst.length = 0
    if (seenMore.size !== 0) seenMore.clear()
    encoding = false
  }
}

function fits(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
      return isWellFormed.call(v)
    case 'number':
      return v !== 0 || 1 / v > 0
    case 'boolean':
    case 'undefined':
    case 'bigint':
      return true
    case 'object':
      break
    default:
      return false // functions and symbols: v8.serialize's error
  }
  if (v === null) return true
  if (depth > MAX_DEPTH || !meet(v) || types.isProxy(v)) return false
  const proto: unknown = Object.getPrototypeOf(v)
  if (proto === Array.prototype) {
    const a = v as readonly unknown[]
    if (!Array.isArray(a) || Object.keys(a).length !== a.length) return false
    for (let i = 0; i < a.length; i++) if (!fits(a[i], depth + 1)) return false
    return true
  }
  if (proto === Date.prototype) return types.isDate(v)
  const o = v as Record<string, unknown>
  if (proto === Object.prototype) {
    if (o.constructor !== Object) return false
  } else if (proto !== null) {
    return false
  }
  if (o.toJSON !== undefined) return false
  let keyChars = 0
  for (const k in o) {
    keyChars += k.length
    if (keyChars > MAX_KEY_CHARS || k === '__proto__' || k === '__keys__' || !isWellFormed.call(k)) return false
    if (!fits(o[k], depth + 1)) return false
  }
  return true
}

// --- the map's structure list ---------------------------------------------------

// Record structures are field-name lists. The native list holds appends back
// to back; each append is one JSON array of field lists and a newline.
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

function parseStructures(bytes: Uint8Array): (string[] | null)[] {
  const out: (string[] | null)[] = []
  for (const line of fromUtf8.decode(bytes).split('\n')) {
    if (line.length === 0) continue
    for (const s of JSON.parse(line) as (string[] | null)[]) out.push(s)
  }
  return out
}

// Structures msgpackr shares through the map (it gives a record of any other
// shape its field names inline, numbered afresh in every value, so equal
// values encode to equal bytes in every thread).
const MAX_SHARED_STRUCTURES = 32

type MsgpackrModule = typeof import('msgpackr')
let msgpackr: MsgpackrModule | undefined

// For the benchmark only (bench/js/suites/objects.mjs): every object through
// v8.serialize, as before the record codec, to measure against.
let v8Only = false
/** @internal */
export function setObjectsThroughV8(on: boolean): void {
  v8Only = on
}

// Values are decoded from a copy in this buffer rather than from the fresh
// Uint8Array a get returns: msgpackr hangs a DataView on every buffer it
// reads (a new object, and a new property on the array), which costs more
// than the copy; this buffer gets one and keeps it. msgpackr keeps nothing
// that points into its input once unpack returns (records hold copies), and
// nothing re-enters decoding, so one buffer serves every map of the thread.
const SCRATCH_MAX = 1 << 16
let scratch: Buffer = Buffer.allocUnsafeSlow(4096)

// This thread's object buffer, where ioGetObject leaves an object's bytes instead
// of making a Uint8Array of them; made when the thread's first object codec
// is. Native code asks whether it is attached before each write, so the
// mark only keeps postMessage from taking it.
let objectOut: Buffer | undefined

function objectOutBuffer(): Buffer {
  if (objectOut === undefined) {
    const buffer = addon.objectOut()
    markAsUntransferable(buffer)
    objectOut = Buffer.from(buffer)
  }
  return objectOut
}

/**
 * One map's object encoder in this thread: msgpackr over the map's structure
 * list (loaded from the map when a value names a structure this thread has
 * not seen, extended by compare-and-append, see registry.hpp), v8.serialize
 * for what msgpackr would not give back exactly.
 */
class ObjectCodec {
  readonly #native: NativeMap
  #packr: Packr | undefined
  // The list as this thread last read or wrote it: its version, and how many
  // structures it held.
  #version = 0
  #count = 0

  constructor(native: NativeMap) {
    this.#native = native
    objectOutBuffer()
  }

  #make(): Packr {
    msgpackr ??= require('msgpackr') as MsgpackrModule
    // msgpackr keeps the last decoder it ran in its module, for good: the
    // hooks reach this codec (and so the map) through a WeakRef, or that
    // decoder would keep the last map read in this thread from being freed.
    const self = new WeakRef<ObjectCodec>(this)
    const live = (): ObjectCodec => {
      const codec = self.deref()
      if (codec === undefined) throw new Error('threadmap: the map of this encoder was freed')
      return codec
    }
    const options: PackrOptions = {
      useRecords: true,
      moreTypes: true,
      maxSharedStructures: MAX_SHARED_STRUCTURES,
      getStructures: () => live().#load() as object[],
      saveStructures: (structures) => live().#save(structures as (string[] | null)[] & { sharedLength?: number }),
    }
    this.#packr = new msgpackr.Packr(options)
    return this.#packr
  }

  #load(): (string[] | null)[] {
    const [version, bytes] = addon.structuresRead(this.#native)
    const list = parseStructures(bytes)
    this.#version = version
    this.#count = list.length
    return list
  }

  // msgpackr calls this before pack() returns bytes that use new shared
  // structures; false (another thread appended first) makes it reload the
  // list and encode again, so stored bytes only name appended structures.
  #save(structures: (string[] | null)[] & { sharedLength?: number }): boolean {
    const end = structures.sharedLength ?? structures.length
    if (end <= this.#count) return true
    const tail: (string[] | null)[] = []
    for (let i = this.#count; i < end; i++) tail.push(structures[i] ?? null)
    const bytes = utf8.encode(`${JSON.stringify(tail)}\n`)
    if (!addon.structuresAppend(this.#native, this.#version, bytes)) return false
    this.#version++
    this.#count = end
    return true
  }

  encode(value: object, index?: number): Uint8Array {
    // A getter of the value may store another object meanwhile: the walk's
    // memory and msgpackr's encoder serve one value at a time, so a value
    // that arrives during another's encoding goes through v8.serialize.
    if (v8Only || encoding || !fitsRecords(value)) return serialize(value, index)
    const packr = this.#packr ?? this.#make()
    let bytes: Uint8Array
    encoding = true
    try {
      bytes = packr.pack(value)
    } catch (err) {
      // msgpackr keeps structures it made for a value it then failed to
      // write; a fresh encoder reloads the map's list instead.
      this.#packr = undefined
      throw err
    } finally {
      encoding = false
    }
    return bytes[0] === V8_TAG ? serialize(value, index) : bytes
  }

  decode(wire: Uint8Array | ObjectOut): unknown {
    if (wire === OBJECT_OUT) return this.#unpack(objectOutBuffer(), io[IO_LAYOUT.value] as number)
    if (wire[0] === V8_TAG) return v8.deserialize(wire) as unknown
    const n = wire.length
    if (n > SCRATCH_MAX) return this.#unpack(wire, n)
    if (scratch.length < n) scratch = Buffer.allocUnsafeSlow(Math.max(n, 2 * scratch.length))
    scratch.set(wire)
    return this.#unpack(scratch, n)
  }

  // msgpackr's bytes, source[0, n): decoded whole before returning, and
  // nothing decoded points into them (fitsRecords admits no binary data), so
  // the shared buffers may be written again at once.
  #unpack(source: Uint8Array, n: number): unknown {
    const packr = this.#packr ?? this.#make()
    try {
      return packr.unpack(source, n) as unknown
    } catch (err) {
      // Only a failed reload of the list (the map was closed meanwhile) or
      // memory can fail here; start again from the map's list next time.
      this.#packr = undefined
      throw err
    }
  }
}

function isObject(value: unknown): value is object {
  return (typeof value === 'object' && value !== null) || typeof value === 'function'
}

// 'structured': every value is bytes; objects through ObjectCodec,
// primitives through v8.serialize (msgpackr's -1 would begin with 0xFF).
function structured(objects: ObjectCodec): ValueCodec {
  return {
    encode(value, index) {
      return isObject(value) ? objects.encode(value, index) : serialize(value, index)
    },
    decode(wire) {
      return objects.decode(wire as Uint8Array | ObjectOut)
    },
    storesUndefined: true,
  }
}

// 'any': primitives cross as themselves (tagged natively); objects become
// bytes here, and native code hands them back as a Uint8Array, which is
// therefore always an encoded object (a user's Uint8Array is encoded too).
function any(objects: ObjectCodec): ValueCodec {
  return {
    encode(value, index) {
      return isObject(value) ? objects.encode(value, index) : (value as Wire)
    },
    decode(wire) {
      return wire === OBJECT_OUT || wire instanceof Uint8Array ? objects.decode(wire) : wire
    },
    storesUndefined: true,
  }
}

/**
 * The JS-side codec for a map's values, or null when values cross as
 * themselves. One per ThreadMap object: the object codec keeps this thread's
 * copy of `native`'s structure list.
 */
export function valueCodec(type: ValueTypeName, native: NativeMap): ValueCodec | null {
  switch (type) {
    case 'json':
      return json
    case 'structured':
      return structured(new ObjectCodec(native))
    case 'any':
      return any(new ObjectCodec(native))
    default:
      return null
  }
}
