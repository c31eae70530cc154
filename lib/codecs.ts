// The value transforms that belong in JavaScript: JSON text, and objects as
// bytes. Primitive keys and values are encoded natively
// (native/addon/codec.cpp); these only turn the values native code cannot
// read into bytes or text.
//
// Objects (under 'any', and every value under 'structured') keep
// v8.serialize's meaning: what a get returns is what
// v8.deserialize(v8.serialize(value)) would be. Two encoders make the bytes:
// - the record writer (lib/records.ts), for plain data: objects whose
//   prototype is Object.prototype or null, dense arrays, strings, numbers,
//   bigints, booleans, null, undefined and Dates, as a tree, checked while
//   written. msgpackr decodes its bytes several times faster than
//   v8.deserialize (docs/benchmarks.md, "Objects"). A record names its field
//   list by a position in the map's structure list, which is kept natively
//   with the map (registry.hpp, structure_list) so every thread decodes what
//   any thread encoded.
// - v8.serialize for everything else: Map, Set, typed arrays, RegExp, Error,
//   boxed primitives, class instances, shared references and cycles, sparse
//   arrays, -0, lone surrogates, and any value msgpackr would not give back
//   exactly (records.ts lists them). v8.serialize's output begins with its
//   version tag 0xFF; the record writer's encoding of an object or array
//   never does (a record reference is 0x40-0x5F, a map 0x80-0x8F or
//   0xDE-0xDF, an array 0x90-0x9F or 0xDC-0xDD, a Date 0xC7 or 0xD4), so the
//   first byte says which decoder reads a value, with no tag of our own.

import * as v8 from 'node:v8'
import { markAsUntransferable } from 'node:worker_threads'

import type { Options as PackrOptions, Packr } from 'msgpackr'

import { RecordWriter, written } from './records'
import { addon, io, IO_LAYOUT, type NativeMap, type ValueTypeName, type Wire } from './native'

/**
 * What ioGetObject/ioGetObjectK answer, when given it, for an object whose bytes they
 * left in this thread's object buffer (native/addon/io_protocol.hpp,
 * "objects out"); a ValueCodec's decode takes it for those bytes.
 */
export const OBJECT_OUT: unique symbol = Symbol('threadmap.objectOut')
export type ObjectOut = typeof OBJECT_OUT

/**
 * What ValueCodec.encodeHere answers for a value the record writer took:
 * its bytes are in the writer's output (records.ts: writtenBuffer(),
 * writtenStart(), writtenEnd()) until this thread's next encode.
 */
export const WRITTEN: unique symbol = Symbol('threadmap.written')
export type Written = typeof WRITTEN

export interface ValueCodec {
  /** `index`: the value's place in a batch, for error messages. */
  encode(value: unknown, index?: number): Wire
  /**
   * encode(), except that an object the record writer takes is left in its
   * output (WRITTEN) instead of becoming a Uint8Array: set hands the addon
   * where it lies (ioSetWritten), so no typed array is made per set.
   */
  encodeHere(value: unknown): Wire | Written
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
  encodeHere(value) {
    return json.encode(value)
  },
  decode(wire) {
    return JSON.parse(wire as string) as unknown
  },
  storesUndefined: false,
}

/** v8.serialize's version tag, the first byte of everything it writes. */
const V8_TAG = 0xff

// True while this thread encodes a value (see ObjectCodec.encode).
let encoding = false

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

// Field lists the map keeps (records.ts writes objects of any other shape as
// msgpack maps, so equal values encode to equal bytes in every thread).
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

function sameKeys(a: readonly string[] | null, b: readonly string[]): boolean {
  if (a === null || a.length !== b.length) return false
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * One map's object codec in this thread: the record writer (records.ts) and
 * msgpackr's decoder over the map's structure list (read from the map when
 * a value names a structure this thread has not seen, extended by
 * compare-and-append, see registry.hpp), v8.serialize for the rest.
 */
class ObjectCodec {
  readonly #native: NativeMap
  readonly #writer: RecordWriter
  #packr: Packr | undefined
  // The list as this thread last read or wrote it, and its version.
  #list: (string[] | null)[] = []
  #version = 0

  constructor(native: NativeMap) {
    this.#native = native
    this.#writer = new RecordWriter((keys) => this.#structureId(keys))
    objectOutBuffer()
  }

  #make(): Packr {
    msgpackr ??= require('msgpackr') as MsgpackrModule
    // msgpackr keeps the last decoder it ran in its module, for good: the
    // hook reaches this codec (and so the map) through a WeakRef, or that
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
      // records.ts writes objects past the structure list as msgpack maps
      mapsAsObjects: true,
      maxSharedStructures: MAX_SHARED_STRUCTURES,
      getStructures: () => live().#load() as object[],
    }
    this.#packr = new msgpackr.Packr(options)
    return this.#packr
  }

  #reload(): void {
    const [version, bytes] = addon.structuresRead(this.#native)
    this.#list = parseStructures(bytes)
    this.#version = version
  }

  // For msgpackr's decoder, which merges what it is given into its own list.
  #load(): (string[] | null)[] {
    this.#reload()
    return this.#list.map((keys) => (keys === null ? null : keys.slice()))
  }

  // The writer's StructureId: the list's position of `keys`, appended when
  // absent (compare-and-append at the version this thread read: if another
  // thread appended first, read the list again and look again), -1 when the
  // list is full, which it then is for good.
  #structureId(keys: string[]): number {
    for (;;) {
      for (let i = 0; i < this.#list.length; i++) if (sameKeys(this.#list[i] ?? null, keys)) return i
      if (this.#list.length >= MAX_SHARED_STRUCTURES) return -1
      if (addon.structuresAppend(this.#native, this.#version, utf8.encode(`${JSON.stringify([keys])}\n`))) {
        this.#version++
        this.#list.push(keys)
        return this.#list.length - 1
      }
      this.#reload()
    }
  }

  encode(value: object, index?: number): Uint8Array {
    const bytes = this.encodeHere(value, index)
    return bytes === WRITTEN ? written() : bytes
  }

  // The record writer's output (WRITTEN), or v8.serialize's bytes.
  encodeHere(value: object, index?: number): Uint8Array | Written {
    // A getter of the value may store another object meanwhile: the writer
    // serves one value at a time, so a value that arrives during another's
    // encoding goes through v8.serialize.
    if (v8Only || encoding) return serialize(value, index)
    let ok: boolean
    encoding = true
    try {
      ok = this.#writer.write(value)
    } finally {
      encoding = false
    }
    return ok ? WRITTEN : serialize(value, index)
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
  // nothing decoded points into them (records.ts writes no binary data), so
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
    encodeHere(value) {
      return isObject(value) ? objects.encodeHere(value) : serialize(value)
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
    encodeHere(value) {
      return isObject(value) ? objects.encodeHere(value) : (value as Wire)
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
