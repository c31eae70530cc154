// Objects under 'any' and 'structured': a get returns what
// v8.deserialize(v8.serialize(value)) gives, whichever encoder (msgpackr
// records or v8.serialize) stored it; plain data takes the records path;
// the structure list is the map's, shared by every ThreadMap object over it.
import { isDeepStrictEqual } from 'node:util'
import * as v8 from 'node:v8'

import fc from 'fast-check'
import { Unpackr } from 'msgpackr'
import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { addon, type Wire } from '../../lib/native'
import { RecordWriter, written, writtenBuffer, writtenEnd, writtenStart } from '../../lib/records'

const OBJECT_TYPES = ['any', 'structured'] as const

const clone = (x: unknown): unknown => v8.deserialize(v8.serialize(x))

// The bytes a map holds for `key`, read through a second native object over
// the same map (the test's own reference, not the ThreadMap's).
function storedBytes(map: ThreadMap<string, unknown>, key: string): Uint8Array {
  const native = addon.attach(map.id)
  const wire: Wire = addon.get(addon.info(native).ref, key)
  if (!(wire instanceof Uint8Array)) throw new Error(`${key} holds no bytes`)
  return wire
}

const V8 = 0xff
const viaV8 = (map: ThreadMap<string, unknown>, key: string): boolean => storedBytes(map, key)[0] === V8

// Everything fast-check's anything() makes, with every option v8.serialize
// takes (fc.anything never makes functions or symbols).
const anything = fc.anything({
  maxDepth: 3,
  maxKeys: 5,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withNullPrototype: true,
  withObjectString: true,
  withSet: true,
  withSparseArray: true,
  withTypedArray: true,
  withUnicodeString: true,
})

// Plain data: what the records path takes.
const plain = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.double(),
    fc.integer(),
    fc.bigInt(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.date(),
    tie('object'),
    tie('array'),
  ),
  object: fc.dictionary(fc.string(), tie('value'), { maxKeys: 6 }),
  array: fc.array(tie('value'), { maxLength: 5 }),
}))

describe.each(OBJECT_TYPES)('objects (values %s)', (values) => {
  test('property: get returns what v8.serialize would give back, for anything', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    fc.assert(
      fc.property(anything, (x) => {
        map.set('k', x)
        const expected = clone(x)
        return same(map.get('k'), expected) && same(map.getMany(['k'])[0], expected)
      }),
      { numRuns: 400 },
    )
    map.close()
  })

  test('property: plain data takes the records path and round-trips', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    fc.assert(
      fc.property(fc.oneof(plain.object, plain.array), (x) => {
        map.set('k', x)
        if (!same(map.get('k'), clone(x))) return false
        // -0 and lone surrogates take v8's path, by design.
        const text = JSON.stringify(x, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? ''
        const exotic = /\\ud[89a-f]/i.test(text) || hasNegativeZero(x) || hasName(x, '__proto__')
        return exotic || !viaV8(map, 'k')
      }),
      { numRuns: 400 },
    )
    map.close()
  })

  test('what only v8.serialize keeps goes through it, and comes back as it would', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    const shared = { s: 1 }
    const cyclic: Record<string, unknown> = { name: 'c' }
    cyclic.self = cyclic
    class Point {
      constructor(
        public x: number,
        public y: number,
      ) {}
    }
    const sparse = [1, , 3] // eslint-disable-line no-sparse-arrays
    const decorated = Object.assign([1, 2], { extra: 'x' })
    // As many keys as elements: a hole and a field (Object.keys' count alone misses it).
    const sparseDecorated = Object.assign([1, , 3], { extra: 'x' }) // eslint-disable-line no-sparse-arrays
    const holeAtEnd = Object.assign([1, 2, , ], { extra: 'x' }) // eslint-disable-line no-sparse-arrays
    const longSurrogate = `a${'\ud800'.repeat(80)}`
    const cases: Record<string, unknown> = {
      negativeZero: { a: -0 },
      nestedNegativeZero: { a: [1, { b: -0 }] },
      sharedReference: { a: shared, b: shared },
      cycle: cyclic,
      map: { m: new Map<unknown, unknown>([[1, { x: 2 }]]) },
      set: { s: new Set([1, 'a']) },
      typed: { u8: new Uint8Array([1, 2]), f64: new Float64Array([0.5]), big: new BigInt64Array([-1n]) },
      buffer: { ab: new Uint8Array([9, 8]).buffer },
      regexp: { r: /x+/gi },
      error: { e: new RangeError('bad') },
      boxed: { n: Object(1) as unknown, s: Object('s') as unknown, b: Object(true) as unknown },
      classInstance: { p: new Point(1, 2) },
      rootClassInstance: new Point(3, 4),
      sparse: { a: sparse },
      arrayWithProperty: { a: decorated },
      sparseWithProperty: { a: sparseDecorated },
      holeAtEndWithProperty: { a: holeAtEnd },
      protoKey: JSON.parse('{"__proto__": {"x": 1}, "y": 2}') as unknown,
      loneSurrogateValue: { s: 'x\udc00' },
      longLoneSurrogate: { s: longSurrogate },
      loneSurrogateKey: { ['k\ud800']: 1 },
      deep: deepObject(200),
      matchArray: { m: 'abc'.match(/b/) },
    }
    for (const [key, x] of Object.entries(cases)) {
      map.set(key, x)
      expect(viaV8(map, key), key).toBe(true)
      const got = map.get(key)
      expect(isDeepStrictEqual(got, clone(x)), key).toBe(true)
    }
    // Identity survives as v8 keeps it.
    const s = map.get('sharedReference') as { a: object; b: object }
    expect(s.a).toBe(s.b)
    const c = map.get('cycle') as { self: unknown }
    expect(c.self).toBe(c)
    expect(Object.getPrototypeOf(map.get('rootClassInstance'))).toBe(Object.prototype)
    const p = map.get('protoKey') as object
    expect(Object.getOwnPropertyNames(p)).toEqual(['__proto__', 'y'])
    map.close()
  })

  test('plain data of every kind the records path takes', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    const cases: Record<string, unknown> = {
      session: { id: 1, score: 1.5, user: 'u', roles: ['a', 'b'], geo: { c: 'x' }, active: true, agent: 'x'.repeat(70) },
      numbers: { nan: NaN, inf: Infinity, ninf: -Infinity, big: 2 ** 60, neg: -(2 ** 40), frac: 0.1, zero: 0 },
      bigints: { a: 0n, b: -1n, c: 2n ** 63n - 1n, d: -(2n ** 63n), e: 2n ** 64n - 1n, f: 2n ** 200n, g: -(2n ** 90n) },
      dates: { a: new Date(0), c: new Date(8.64e15), d: new Date(-1), e: new Date(-8.64e15) },
      invalidDate: { a: new Date(NaN) },
      undefineds: { a: undefined, b: [undefined, null] },
      nullPrototype: Object.assign(Object.create(null) as object, { a: 1, nested: Object.assign(Object.create(null) as object, { b: 2 }) }),
      strings: { empty: '', e: 'é', emoji: '😀', long: 'é'.repeat(300), keyé: 1 },
      emptyObject: {},
      emptyArray: [],
      array: [1, 'two', { three: 3 }, [4]],
      integerKeys: { 1: 'a', 0: 'b', x: 'c' },
      // Fields msgpackr's encoder consulted; the record writer does not.
      keysKey: { __keys__: 1, a: 2 },
      toJSON: { toJSON: 5, a: 1 },
      ownConstructor: { constructor: 'c' },
      // Past the decoder's first scratch buffer, and past the largest one it keeps.
      mid: { s: 'y'.repeat(5000), n: [1, 2] },
      large: { s: 'z'.repeat(70_000), n: [3] },
    }
    for (const [key, x] of Object.entries(cases)) {
      map.set(key, x)
      expect(viaV8(map, key), key).toBe(false)
      const got = map.get(key)
      if (key !== 'invalidDate') expect(isDeepStrictEqual(got, clone(x)), key).toBe(true)
    }
    expect(Object.getPrototypeOf(map.get('nullPrototype'))).toBe(Object.prototype)
    // Each decode reads from a reused buffer: what it returned earlier stays as it was.
    const names = Object.keys(cases).filter((k) => k !== 'invalidDate')
    const many = map.getMany(names)
    names.forEach((k, i) => expect(isDeepStrictEqual(many[i], clone(cases[k])), k).toBe(true))
    // (isDeepStrictEqual tells two invalid Dates apart: NaN is not NaN.)
    const invalid = (map.get('invalidDate') as { a: Date }).a
    expect(invalid).toBeInstanceOf(Date)
    expect(invalid.getTime()).toBeNaN()
    map.close()
  })

  test('the record writer: every header width, every number form, strings around the short-string limit', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    const wide = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, i]))
    const cases: Record<string, unknown> = {
      // 0x40-0x7F are record references: integers there take 0xCC.
      ints: [0, 0x3f, 0x40, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1],
      negatives: [-1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53) + 1],
      floats: [0.5, -0.5, 1e300, -1e-300, Number.MIN_VALUE, Number.MAX_VALUE],
      bigints: [2n ** 63n, 2n ** 64n, 2n ** 64n - 1n, -(2n ** 63n) - 1n, -(2n ** 64n), 2n ** 2048n, -(2n ** 2048n) + 7n],
      // 31 and 32 characters, a 31-character string of 32+ UTF-8 bytes (its header moves), 63, 64, 300 with 2- to 4-byte characters.
      strings: ['a'.repeat(31), 'a'.repeat(32), `${'a'.repeat(30)}é`, 'é'.repeat(31), 'b'.repeat(63), 'c'.repeat(64), '😀é€a'.repeat(60), 'x'.repeat(70_000)],
      dates: [new Date(-1500), new Date(1), new Date(2 ** 32 * 1000 + 5), new Date(-8.64e15), new Date(8.64e15)],
      arrays: [Array.from({ length: 15 }, (_, i) => i), Array.from({ length: 16 }, (_, i) => i), Array.from({ length: 70_000 }, (_, i) => i & 7)],
      // Field lists past the shared ones are maps: 15, 16 and 70,000 fields.
      maps: [wide(15), wide(16)],
    }
    for (let i = 0; i < 40; i++) map.set(`shape${i}`, { [`only${i}`]: i }) // fill the structure list
    cases.pastList = [wide(15), wide(16), { z: 1, y: [{ x: 2 }] }]
    for (const [key, x] of Object.entries(cases)) {
      map.set(key, x)
      expect(viaV8(map, key), key).toBe(false)
      expect(isDeepStrictEqual(map.get(key), clone(x)), key).toBe(true)
    }
    map.close()
  })

  test('a batch of record-written values: each keeps its own bytes, across the writer\'s chunks', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    const xs = Array.from({ length: 12 }, (_, i) => ({ i, s: String.fromCharCode(97 + i).repeat(20_000) }))
    map.setMany(
      xs.map((_, i) => `k${i}`),
      xs,
    )
    xs.forEach((x, i) => expect(map.get(`k${i}`)).toEqual(x))
    map.close()
  })

  test('an enumerable property on Object.prototype sends values to v8.serialize, which leaves it out', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    const proto = Object.prototype as Record<string, unknown>
    proto.polluted = 1
    try {
      map.set('k', { a: 1 })
      expect(viaV8(map, 'k')).toBe(true)
    } finally {
      delete proto.polluted
    }
    expect(map.get('k')).toEqual({ a: 1 })
    expect(Object.keys(map.get('k') as object)).toEqual(['a'])
    map.set('k', { a: 1 })
    expect(viaV8(map, 'k')).toBe(false)
    map.close()
  })

  test('getters run and their values are stored', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    const x = {
      get a(): number {
        return 7
      },
    }
    map.set('k', x)
    expect(map.get('k')).toEqual({ a: 7 })
    map.close()
  })

  test('a getter that stores another object while its own is encoded', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    let calls = 0
    const x = {
      a: 1,
      get b(): { c: number[] } {
        calls++
        map.set(`inner${calls}`, { d: calls, e: [calls, 'x'] })
        return { c: [calls] }
      },
      f: 'after',
    }
    map.set('outer', x)
    expect(calls).toBe(1) // checked while written: each field is read once
    expect(map.get('outer')).toEqual({ a: 1, b: { c: [1] }, f: 'after' })
    expect(map.get('inner1')).toEqual({ d: 1, e: [1, 'x'] })
    expect(map.has('inner2')).toBe(false)
    map.close()
  })

  test('a getter that deletes a field not yet written: the stored value is the object as it then is', () => {
    // The record writer has already chosen the field list when the getter
    // runs; a record with a value missing would decode against the wrong
    // fields. The value must arrive whole or not at all.
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    const flat: Record<string, unknown> = {
      a: 1,
      get b(): number {
        delete flat.c
        return 2
      },
      c: 3,
      d: 'four',
    }
    map.set('flat', flat)
    expect(map.get('flat')).toEqual({ a: 1, b: 2, d: 'four' })
    expect(Object.keys(map.get('flat') as object)).toEqual(['a', 'b', 'd'])
    // From a nested object, a field of its parent written after it.
    const outer: Record<string, unknown> = {
      x: 1,
      inner: {
        get y(): number[] {
          delete outer.z
          return [1, 2]
        },
        w: true,
      },
      z: 'gone',
      after: null,
    }
    map.set('nested', outer)
    expect(map.get('nested')).toEqual({ x: 1, inner: { y: [1, 2], w: true }, after: null })
    // The field lists met midway do not disturb later values of those shapes.
    map.set('plain', { a: 1, b: 2, c: 3, d: 'four' })
    expect(map.get('plain')).toEqual({ a: 1, b: 2, c: 3, d: 'four' })
    expect(viaV8(map, 'plain')).toBe(false)
    map.set('plain2', { x: 2, inner: { y: [3], w: false }, z: 'here', after: 0 })
    expect(map.get('plain2')).toEqual({ x: 2, inner: { y: [3], w: false }, z: 'here', after: 0 })
    map.close()
  })

  test('what neither encoder takes is a TypeError that changes nothing', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    map.set('k', { keep: 1 })
    const bad: unknown[] = [
      { f: () => 1 },
      { s: Symbol('s') },
      [() => 1],
      new Proxy({ a: 1 }, {}),
      { p: new Proxy({}, {}) },
    ]
    for (const x of bad) {
      expect(() => map.set('k', x)).toThrow(TypeError)
      expect(() => map.set('other', x)).toThrow(/cannot be stored \(v8\.serialize/)
    }
    expect(map.get('k')).toEqual({ keep: 1 })
    expect(map.has('other')).toBe(false)
    expect(() => map.setMany([['a', { ok: 1 }], ['b', { f: () => 1 }]])).toThrow(/value at index 1 cannot be stored/)
    expect(map.size).toBe(1)
    map.close()
  })

  test('ThreadMap objects over one map share its structures, whichever adds them', () => {
    // a and b each keep their own copy of the list: b's is stale when it meets
    // a shape a added, and a's when it meets b's. Both must decode everything,
    // and compareAndSet must see the bytes the other wrote as equal.
    const a = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    const b = ThreadMap.attach<string, unknown>(a.handle())
    a.set('a1', { x: 1, y: 'a' })
    b.set('b1', { p: [1], q: { r: 2 } })
    expect(b.get('a1')).toEqual({ x: 1, y: 'a' })
    a.set('a2', { z: true })
    b.set('b2', { w: null, x: 1 })
    for (const m of [a, b]) {
      expect(m.get('a1')).toEqual({ x: 1, y: 'a' })
      expect(m.get('a2')).toEqual({ z: true })
      expect(m.get('b1')).toEqual({ p: [1], q: { r: 2 } })
      expect(m.get('b2')).toEqual({ w: null, x: 1 })
    }
    expect(a.compareAndSet('b2', { w: null, x: 1 }, { w: 1, x: 2 })).toBe(true)
    expect(b.compareAndSet('a2', { z: true }, { z: false })).toBe(true)
    expect(b.get('b2')).toEqual({ w: 1, x: 2 })
    expect(a.get('a2')).toEqual({ z: false })
    a.close()
  })

  test('many shapes: past the shared structures, records carry their fields', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    const other = ThreadMap.attach<string, unknown>(map.handle())
    const shape = (i: number): Record<string, number> => ({ [`f${i}`]: i, [`g${i}`]: i + 1 })
    for (let i = 0; i < 100; i++) (i % 2 ? map : other).set(`s${i}`, shape(i))
    for (let i = 0; i < 100; i++) {
      expect(map.get(`s${i}`)).toEqual(shape(i))
      expect(other.get(`s${i}`)).toEqual(shape(i))
    }
    // Shapes past the shared ones are numbered afresh in each value, so equal
    // values encode to equal bytes whichever thread's history encodes them.
    expect(other.compareAndSet('s99', shape(99), shape(98))).toBe(true)
    expect(map.compareAndSet('s98', shape(98), shape(97))).toBe(true)
    expect(map.get('s99')).toEqual(shape(98))
    // More than 1,024 characters of field names: v8's path, outside the map's list.
    const wide = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`field_${'x'.repeat(40)}_${i}`, i]))
    map.set('wide', wide)
    expect(viaV8(map, 'wide')).toBe(true)
    expect(other.get('wide')).toEqual(wide)
    map.close()
  })

  test('close(): later calls that need the structure list throw the closed Error', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    const native = addon.attach(map.id)
    map.set('k', { a: 1 })
    expect(addon.structuresRead(native)[0]).toBeGreaterThan(0)
    map.close()
    expect(() => map.set('k', { brandNew: 1 })).toThrow(/is closed/)
    expect(() => map.get('k')).toThrow(/is closed/)
    expect(() => addon.structuresRead(native)).toThrow(new RegExp(`map ${map.id} is closed`))
    expect(() => addon.structuresAppend(native, 1, new Uint8Array([1]))).toThrow(/is closed/)
  })

  test('a map closed by another holder mid-use: the next encode that needs the list throws', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    const other = ThreadMap.attach<string, unknown>(map.handle())
    map.set('k', { a: 1 })
    other.close()
    expect(() => map.set('j', { fresh: 2 })).toThrow(/is closed/)
    expect(() => map.set('k', { a: 2 })).toThrow(/is closed/)
  })
})

// The writer's bytes for `value` as the map's set reads them (lib/index.ts:
// write(), then writtenBuffer()[writtenStart(), writtenEnd()), or written()
// when the set has options); null when the value must take v8.serialize.
function writeBytes(w: RecordWriter, value: object): Uint8Array | null {
  if (!w.write(value)) return null
  const start = writtenStart()
  const bytes = new Uint8Array(writtenBuffer(), start, writtenEnd() - start)
  const view = written()
  expect(view.buffer).toBe(bytes.buffer)
  expect(view.byteOffset).toBe(start)
  expect(view.length).toBe(bytes.length)
  return bytes
}

describe('the record writer', () => {
  test('fits() answers as write() would and keeps no bytes', () => {
    const w = new RecordWriter(() => -1)
    const first = writeBytes(w, { a: 1, s: 'x' })!
    const kept = Buffer.from(first)
    expect(w.fits({ b: [1, 2, 3], t: 'y'.repeat(100) })).toBe(true)
    expect(w.fits({ f: () => 1 })).toBe(false)
    const o = {}
    expect(w.fits({ shared: [o, o] })).toBe(false)
    const second = writeBytes(w, { a: 2, s: 'z' })!
    // The next value is written right after the first: fits() gave its room back.
    expect(second.buffer).toBe(first.buffer)
    expect(second.byteOffset).toBe(first.byteOffset + first.length)
    expect(Buffer.from(first).equals(kept)).toBe(true)
  })
  test('shapes that share field names, in every order and interleaved, nested and not: each decodes to its own fields', () => {
    // The writer's transition tree caches the last two steps taken from each
    // node; a wrong step reaches a node resolved for another field list.
    const names = ['a', 'b', 'c', 'd']
    const shapes: string[][] = [[]]
    for (const n of names) for (const s of shapes.slice()) if (s.length < 3) shapes.push([...s, n], [n, ...s])
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values: 'any' })
    let r = 7
    const next = (): number => {
      r = (r * 1103515245 + 12345) & 0x7fffffff
      return r
    }
    for (let i = 0; i < 3000; i++) {
      const shape = shapes[next() % shapes.length] as string[]
      const inner = shapes[next() % shapes.length] as string[]
      const x: Record<string, unknown> = Object.fromEntries(shape.map((k, j) => [k, j]))
      if (i % 2 === 0) x.n = Object.fromEntries(inner.map((k, j) => [k, `${j}`]))
      map.set(`k${i}`, x)
      expect(map.get(`k${i}`)).toEqual(x)
    }
    expect(viaV8(map, 'k2999')).toBe(false)
    map.close()
  })

  test('strings of every length to past the short-string limit, in every UTF-8 width, across chunks', () => {
    const w = new RecordWriter(() => -1)
    const unpackr = new Unpackr({ mapsAsObjects: true })
    // One code unit of each UTF-8 width, a surrogate pair, and a mix; a
    // string of n units of an alphabet repeats it and cuts it at n (a pair
    // cut in half ends in a lone surrogate, which goes to v8.serialize).
    const alphabets = ['a', 'é', '€', '😀', 'a😀é€x']
    const lone = ['\ud800', '\udc00']
    const kept: [Uint8Array, Uint8Array, string][] = []
    // Enough values that the writer takes several chunks: results straddle
    // where one ends, and every result handed out earlier stays intact.
    for (let round = 0; round < 12; round++) {
      for (let n = 0; n <= 80; n++) {
        for (const alphabet of alphabets) {
          const s = alphabet.repeat(n).slice(0, n)
          const last = s.charCodeAt(n - 1)
          const cut = n > 0 && last >= 0xd800 && last <= 0xdbff
          const bytes = writeBytes(w, { s })
          if (cut) {
            expect(bytes, `${n} of ${alphabet}`).toBeNull()
            continue
          }
          expect(bytes, `${n} of ${alphabet}`).not.toBeNull()
          expect(unpackr.unpack(bytes!), `${n} of ${alphabet}`).toEqual({ s })
          kept.push([bytes!, Buffer.from(bytes!), s])
        }
        for (const l of lone) {
          const at = n === 0 ? 0 : (n * 7) % (n + 1)
          const s = 'a'.repeat(n).slice(0, at) + l + 'é'.repeat(n).slice(at)
          expect(writeBytes(w, { s }), `${JSON.stringify(l)} at ${at} of ${s.length}`).toBeNull()
        }
      }
    }
    expect(new Set(kept.map(([bytes]) => bytes.buffer)).size).toBeGreaterThan(1)
    for (const [bytes, copy, s] of kept) {
      expect(Buffer.from(bytes).equals(copy), s).toBe(true)
      expect(unpackr.unpack(bytes)).toEqual({ s })
    }
  })
})

describe('structure list bindings: bad arguments', () => {
  test('are TypeErrors that change nothing', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values: 'any' })
    const native = addon.attach(map.id)
    const read = addon.structuresRead as (...args: unknown[]) => unknown
    const append = addon.structuresAppend as (...args: unknown[]) => unknown
    expect(() => read({})).toThrow(/structures: the map is not a NativeMap/)
    expect(() => read(undefined)).toThrow(TypeError)
    expect(() => append(native, -1, new Uint8Array(1))).toThrow(/version must be a non-negative integer/)
    expect(() => append(native, 0.5, new Uint8Array(1))).toThrow(TypeError)
    expect(() => append(native, 0, 'x')).toThrow(/bytes must be a Uint8Array/)
    expect(() => append(native, 0, new Uint16Array(1))).toThrow(TypeError)
    expect(addon.structuresRead(native)[0]).toBe(0)
    expect(addon.structuresAppend(native, 1, new Uint8Array([1]))).toBe(false)
    expect(addon.structuresRead(native)[0]).toBe(0)
    map.close()
  })
})

// isDeepStrictEqual, except that invalid Dates are equal (it compares their
// NaN times with ===, and fc.date() makes invalid ones). Rewrites them, in
// both values, to one valid time.
function same(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(validDates(a, new Set()), validDates(b, new Set()))
}

function validDates(x: unknown, seen: Set<object>): unknown {
  if (typeof x !== 'object' || x === null || seen.has(x)) return x
  seen.add(x)
  if (x instanceof Date) {
    if (Number.isNaN(x.getTime())) x.setTime(8.64e15)
  } else if (x instanceof Map) {
    for (const [k, v] of x) {
      validDates(k, seen)
      validDates(v, seen)
    }
  } else if (x instanceof Set) {
    for (const v of x) validDates(v, seen)
  } else if (!ArrayBuffer.isView(x)) {
    for (const v of Object.values(x)) validDates(v, seen)
  }
  return x
}

function hasNegativeZero(x: unknown, depth = 0): boolean {
  if (Object.is(x, -0)) return true
  if (typeof x !== 'object' || x === null || depth > 10) return false
  return Object.values(x).some((v) => hasNegativeZero(v, depth + 1))
}

function hasName(x: unknown, name: string, depth = 0): boolean {
  if (typeof x !== 'object' || x === null || depth > 10) return false
  if (Object.hasOwn(x, name)) return true
  return Object.values(x).some((v) => hasName(v, name, depth + 1))
}

function deepObject(depth: number): object {
  let o: object = { leaf: true }
  for (let i = 0; i < depth; i++) o = { next: o }
  return o
}
