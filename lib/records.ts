// The record encoder: plain data to msgpack with msgpackr's record
// references, checked while it is written.
//
// What it writes, msgpackr's decoder (with the map's structure list) reads
// back as exactly what v8.deserialize(v8.serialize(value)) would give; what
// it cannot promise that for, it refuses (write returns false) and the
// caller takes v8.serialize. Checking while writing is one walk over the
// value where a check followed by msgpackr's own encoder was two (every
// field read twice, getters run twice); docs/benchmarks.md, "Objects", has
// the measurements that asked for it.
//
// The format is standard MessagePack except for objects: an object whose
// field list is in the map's structure list at position i (i < 32) is the
// byte 0x40 + i followed by its field values in order, which is msgpackr's
// shared-record reference; any other object is a msgpack map (msgpackr
// decodes maps to objects). Integers 0x40-0x7F are therefore never written
// as positive fixints (msgpackr's rule when records are on). Equal values
// encode to equal bytes in every thread: a field list has one position in
// the map's list, and a list that is full stays full.
//
// Accepted, as a tree: null, undefined, booleans, numbers other than -0
// (msgpack has no negative integer zero), bigints, strings
// with no lone surrogate (UTF-8 has none), Dates, dense arrays with no
// other own enumerable property, and objects whose prototype is
// Object.prototype or null, with no field named `__proto__` (which
// msgpackr's decoder renames), at most MAX_KEY_CHARS characters of field
// names, no
// Proxy, no object met twice (shared references and cycles), at most
// MAX_DEPTH deep, and nothing enumerable inherited from Object.prototype.

import { types } from 'node:util'

// Module constants: `types` is a property of node:util's exports, which are
// in dictionary mode, so `types.isProxy` in the walk was a LoadIC call per
// object (docs/benchmarks.md, "The set of an object, in place").
const { isDate, isProxy } = types

// Deeper values go to v8.serialize (the writer recurses).
const MAX_DEPTH = 64
// Objects whose field names add up to more characters go to v8.serialize:
// the map keeps up to 32 field lists for good (outside maxMemory), which
// this keeps small.
const MAX_KEY_CHARS = 1024
// Strings shorter than this are written by the loop below, longer ones by
// Buffer.write after String.prototype.isWellFormed.
const SHORT_STRING = 64
// Output is written into chunks of at least this size; a result is a view
// of its chunk, and later results go after it, so results handed out earlier
// (a batch encodes every value before one native call) stay intact.
const CHUNK = 1 << 16

// ES2024's String.prototype.isWellFormed (Node 20+), which lib ES2022 does not type.
const isWellFormed = (String.prototype as unknown as { isWellFormed(this: string): boolean }).isWellFormed
const dateTime = Date.prototype.getTime

/**
 * The position of a field list in the map's structure list, appending it
 * when it is absent and there is room; -1 when the list is full.
 */
export type StructureId = (keys: string[]) => number

// A field-list prefix in the transition tree: `id` once the list ending here
// is resolved (-1: written as a map), UNKNOWN before.
const UNKNOWN = -2
class Transition {
  id = UNKNOWN
  readonly next = new Map<string, Transition>()
  // The last two field names followed from here and where they led, the
  // latest first: objects of one shape walk the tree with a pointer compare
  // per field (field names from for-in are internalized strings) instead of
  // a Map lookup, and so do two shapes that alternate (a nested object's
  // first field starts at the root as its parent's does); written only when
  // the latest changes.
  lastKey: string | undefined = undefined
  lastNext: Transition | undefined = undefined
  priorKey: string | undefined = undefined
  priorNext: Transition | undefined = undefined
  // The characters of the field names up to here.
  constructor(readonly chars: number) {}
}

// A chunk is the whole of its ArrayBuffer (allocUnsafeSlow: not from the
// pool), so a position in it is one in chunk.buffer too. (chunk.buffer is
// not kept in a variable of its own: optimized code reads it inline, and
// counted, keeping it saved nothing; docs/benchmarks.md, "The set of an
// object, in place".)
let chunk: Buffer = Buffer.allocUnsafeSlow(CHUNK)
let view = new DataView(chunk.buffer, 0, chunk.length)
let start = 0 // where the value being written begins
let pos = 0 // where the next byte goes
// Objects met in this value: see meet().
const SCAN_MAX = 16
const seenFirst: (object | null)[] = new Array<object | null>(SCAN_MAX).fill(null)
let seenCount = 0
const seenMore = new Set<object>()

function room(n: number): void {
  if (pos + n <= chunk.length) return
  const used = pos - start
  const next = Buffer.allocUnsafeSlow(Math.max(CHUNK, 2 * (used + n)))
  chunk.copy(next, 0, start, pos)
  chunk = next
  view = new DataView(next.buffer, 0, next.length)
  start = 0
  pos = used
}

// A second meeting of an object is a shared reference or a cycle, which
// only v8.serialize keeps. The first few are scanned in an array
// (seenFirst[0, seenCount); clearing a Set allocates a new table, which
// costs more than the scan for objects of a few parts); a Set takes the rest.
function meet(o: object): boolean {
  const n = seenCount
  for (let i = 0; i < n; i++) if (seenFirst[i] === o) return false
  if (n < SCAN_MAX) {
    seenFirst[seenCount++] = o
    return true
  }
  if (seenMore.has(o)) return false
  seenMore.add(o)
  return true
}

function prototypeHasEnumerables(): boolean {
  for (const _ in Object.prototype) return true
  return false
}

export class RecordWriter {
  readonly #root = new Transition(0)
  readonly #structureId: StructureId

  constructor(structureId: StructureId) {
    this.#structureId = structureId
  }

  /**
   * Writes the value into this thread's output; false when it must take
   * v8.serialize (nothing of it is then kept). Its bytes are then
   * written(), or writtenBuffer()[writtenStart(), writtenEnd()) for a caller
   * that hands them on without a view, until the next write of this thread.
   * Not reentrant: the caller keeps values that arrive during a write (from
   * a getter) away from it.
   */
  write(value: object): boolean {
    return this.#write(value)
  }

  /**
   * Whether write() would take `value`, keeping none of its bytes (the
   * output position goes back to where it was).
   */
  fits(value: object): boolean {
    const ok = this.#write(value)
    pos = start
    return ok
  }

  // Writes the value at the output position; on false, or after fits(),
  // nothing of it is kept.
  #write(value: object): boolean {
    start = pos
    let ok = false
    try {
      ok = !prototypeHasEnumerables() && this.#object(value, 0)
    } finally {
      for (let i = 0; i < seenCount; i++) seenFirst[i] = null // keep no value alive
      seenCount = 0
      if (seenMore.size !== 0) seenMore.clear()
      if (!ok) pos = start
    }
    return ok
  }

  // typeof compared with each name rather than switched on: TurboFan turns
  // each comparison into a type check, where a switch called the Typeof
  // builtin for every value (docs/benchmarks.md, "The record writer's walk").
  #value(v: unknown, depth: number): boolean {
    if (typeof v === 'string') return writeString(v)
    if (typeof v === 'number') {
      if (v === 0 && 1 / v < 0) return false
      writeNumber(v)
      return true
    }
    if (typeof v === 'object') {
      if (v === null) {
        room(1)
        chunk[pos++] = 0xc0
        return true
      }
      return this.#object(v, depth)
    }
    if (typeof v === 'boolean') {
      room(1)
      chunk[pos++] = v ? 0xc3 : 0xc2
      return true
    }
    if (typeof v === 'undefined') {
      room(3)
      chunk[pos++] = 0xd4 // fixext 1 of type 0: msgpackr's undefined
      chunk[pos++] = 0
      chunk[pos++] = 0
      return true
    }
    if (typeof v === 'bigint') {
      if (v < -(1n << 63n) || v >= 1n << 63n) {
        writeBigInt(v)
        return true
      }
      room(9)
      chunk[pos++] = 0xd3
      view.setBigInt64(pos, v)
      pos += 8
      return true
    }
    return false // functions and symbols: v8.serialize's error
  }

  #object(v: object, depth: number): boolean {
    if (depth > MAX_DEPTH || !meet(v) || isProxy(v)) return false
    const proto: unknown = Object.getPrototypeOf(v)
    if (proto === Array.prototype) return this.#array(v as unknown[], depth)
    if (proto === Date.prototype) return isDate(v) && writeDate(v as Date)
    if (proto !== Object.prototype && proto !== null) return false
    const o = v as Record<string, unknown>
    // The field names, walked down the transition tree (a field list is
    // checked once, when its transitions are made); then the values, in a
    // second for-in (V8's enum cache makes o[k] there a fast load). A getter
    // that deletes a field not yet written makes the second loop shorter:
    // the value then takes v8.serialize.
    let node = this.#root
    let n = 0
    for (const k in o) {
      let next: Transition | undefined
      if (node.lastKey === k) {
        next = node.lastNext as Transition
      } else {
        next = node.priorKey === k ? node.priorNext : node.next.get(k)
        if (next === undefined) {
          const chars = node.chars + k.length
          if (chars > MAX_KEY_CHARS || k === '__proto__' || !isWellFormed.call(k)) return false
          next = new Transition(chars)
          node.next.set(k, next)
        }
        node.priorKey = node.lastKey
        node.priorNext = node.lastNext
        node.lastKey = k
        node.lastNext = next
      }
      node = next
      n++
    }
    if (n === 0) {
      room(1)
      chunk[pos++] = 0x80
      return true
    }
    if (node.id === UNKNOWN) node.id = this.#structureId(Object.keys(o))
    let written = 0
    if (node.id >= 0) {
      room(1)
      chunk[pos++] = 0x40 + node.id
      for (const k in o) {
        if (++written > n || !this.#value(o[k], depth + 1)) return false
      }
    } else {
      writeLength(n, 0x80, 0xde)
      for (const k in o) {
        if (++written > n || !writeString(k) || !this.#value(o[k], depth + 1)) return false
      }
    }
    return written === n
  }

  #array(a: unknown[], depth: number): boolean {
    // Object.keys lists the indices present, ascending, then the other
    // fields: dense with nothing else when there are n keys and the n-th is
    // n - 1 (the count alone takes a hole and a field for two elements).
    if (!Array.isArray(a)) return false
    const n = a.length
    const keys = Object.keys(a)
    if (keys.length !== n || (n !== 0 && keys[n - 1] !== String(n - 1))) return false
    writeLength(n, 0x90, 0xdc)
    for (let i = 0; i < n; i++) if (!this.#value(a[i], depth + 1)) return false
    return true
  }
}

/**
 * The bytes of the thread's last write(): a Uint8Array on its chunk, valid
 * until the thread's next CHUNK of output is used up, which is long after
 * any caller has passed it on (a batch encodes all its values first). Made
 * on the ArrayBuffer, which costs less than chunk.subarray (whose species
 * lookup and FastBuffer constructor would run on every encode).
 */
export function written(): Uint8Array {
  return new Uint8Array(chunk.buffer, start, pos - start)
}

/** The ArrayBuffer of the thread's last write() (a view of it: written()). */
export function writtenBuffer(): ArrayBuffer {
  return chunk.buffer as ArrayBuffer
}

/** Where the last write()'s bytes begin in writtenBuffer(). */
export function writtenStart(): number {
  return start
}

/** Where the last write()'s bytes end in writtenBuffer(). */
export function writtenEnd(): number {
  return pos
}

// A map or array header: fix form below 16, else 16- or 32-bit (`wide`, wide + 1).
function writeLength(n: number, fix: number, wide: number): void {
  room(5)
  if (n < 16) chunk[pos++] = fix | n
  else writeWide(n, wide)
}

// `code` and a 1-byte n, code + 1 and 2 bytes, or code + 2 and 4 bytes
// (uint 8/16/32, ext 8/16/32); room is the caller's.
function writeSized(n: number, code: number): void {
  if (n < 0x100) {
    chunk[pos++] = code
    chunk[pos++] = n
  } else {
    writeWide(n, code + 1)
  }
}

// `code` and a 2-byte n, or code + 1 and a 4-byte n, big-endian.
function writeWide(n: number, code: number): void {
  if (n < 0x10000) {
    chunk[pos++] = code
    chunk[pos++] = n >> 8
    chunk[pos++] = n & 0xff
  } else {
    chunk[pos++] = code + 1
    view.setUint32(pos, n)
    pos += 4
  }
}

function writeNumber(v: number): void {
  room(9)
  if (v >>> 0 === v) {
    if (v < 0x40) chunk[pos++] = v // 0x40-0x7F are record references
    else writeSized(v, 0xcc)
  } else if (v >> 0 === v) {
    if (v >= -0x20) {
      chunk[pos++] = 0x100 + v
    } else if (v >= -0x80) {
      chunk[pos++] = 0xd0
      chunk[pos++] = v + 0x100
    } else if (v >= -0x8000) {
      chunk[pos++] = 0xd1
      view.setInt16(pos, v)
      pos += 2
    } else {
      chunk[pos++] = 0xd2
      view.setInt32(pos, v)
      pos += 4
    }
  } else {
    chunk[pos++] = 0xcb
    view.setFloat64(pos, v)
    pos += 8
  }
}

// A bigint outside int64 as msgpackr's extension 0x42: its two's complement,
// big-endian, in as few bytes as keep the sign.
function writeBigInt(v: bigint): void {
  const negative = v < 0n
  let hex = (negative ? ~v : v).toString(16)
  if (hex.length % 2 === 1) hex = `0${hex}`
  else if (Number.parseInt(hex.charAt(0), 16) >= 8) hex = `00${hex}`
  const n = hex.length / 2
  room(6 + n)
  writeSized(n, 0xc7) // ext 8, 16 or 32
  chunk[pos++] = 0x42
  chunk.write(hex, pos, 'hex')
  if (negative) for (let i = pos; i < pos + n; i++) chunk[i] = ~(chunk[i] as number) & 0xff
  pos += n
}

// A Date as the msgpack timestamp extension (type -1): 96-bit form
// (nanoseconds, then signed seconds), or msgpackr's invalid-date form.
function writeDate(d: Date): boolean {
  const t = dateTime.call(d)
  room(15)
  if (Number.isNaN(t)) {
    chunk[pos++] = 0xd4
    chunk[pos++] = 0xff
    chunk[pos++] = 0xff
    return true
  }
  const seconds = Math.floor(t / 1000)
  chunk[pos++] = 0xc7
  chunk[pos++] = 12
  chunk[pos++] = 0xff
  view.setUint32(pos, (t - seconds * 1000) * 1e6)
  const high = Math.floor(seconds / 0x100000000)
  view.setInt32(pos + 4, high)
  view.setUint32(pos + 8, seconds - high * 0x100000000)
  pos += 12
  return true
}

// UTF-8 with a str header; false for a string with a lone surrogate.
function writeString(s: string): boolean {
  const n = s.length
  if (n >= SHORT_STRING) {
    if (!isWellFormed.call(s)) return false
    // The header is chosen by the largest possible length, so the bytes can
    // be written in place; msgpack allows a header wider than needed.
    const most = 3 * n
    const header = most < 0x100 ? 2 : most < 0x10000 ? 3 : 5
    room(header + most)
    const length = chunk.write(s, pos + header, 'utf8')
    if (header === 2) {
      chunk[pos] = 0xd9
      chunk[pos + 1] = length
    } else if (header === 3) {
      chunk[pos] = 0xda
      chunk[pos + 1] = length >> 8
      chunk[pos + 2] = length & 0xff
    } else {
      chunk[pos] = 0xdb
      view.setUint32(pos + 1, length)
    }
    pos += header + length
    return true
  }
  // Short: a fixstr header when the characters are fewer than 32, moved
  // over by one byte if the UTF-8 turns out to be 32 bytes or more. The
  // bytes go through a local: the module's `chunk` is a context slot, loaded
  // again at every store.
  const header = n < 32 ? 1 : 2
  room(2 + 3 * n)
  const out = chunk
  const at = pos
  let p = at + header
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i)
    if (c < 0x80) {
      out[p++] = c
    } else if (c < 0x800) {
      out[p++] = (c >> 6) | 0xc0
      out[p++] = (c & 0x3f) | 0x80
    } else if ((c & 0xf800) !== 0xd800) {
      out[p++] = (c >> 12) | 0xe0
      out[p++] = ((c >> 6) & 0x3f) | 0x80
      out[p++] = (c & 0x3f) | 0x80
    } else {
      const d = i + 1 < n ? s.charCodeAt(i + 1) : 0
      if (c > 0xdbff || (d & 0xfc00) !== 0xdc00) return false // a lone surrogate
      c = 0x10000 + ((c & 0x3ff) << 10) + (d & 0x3ff)
      i++
      out[p++] = (c >> 18) | 0xf0
      out[p++] = ((c >> 12) & 0x3f) | 0x80
      out[p++] = ((c >> 6) & 0x3f) | 0x80
      out[p++] = (c & 0x3f) | 0x80
    }
  }
  const length = p - at - header
  if (length < 32) {
    out[at] = 0xa0 | length // header is 1: 32 characters make 32 bytes at least
    pos = at + 1 + length
  } else {
    if (header === 1) out.copyWithin(at + 2, at + 1, p)
    out[at] = 0xd9
    out[at + 1] = length
    pos = at + 2 + length
  }
  return true
}

/**
 * Whether the record writer takes `value` (else it is stored through
 * v8.serialize); as if the map's structure list were full. Exported for the
 * property tests' model of stored forms only.
 *
 * @internal
 */
export function fitsRecords(value: object): boolean {
  return new RecordWriter(() => -1).fits(value)
}
