// Property-based: random operation sequences replayed on a ThreadMap and on a
// model built from a JS Map must give the same result at every step, for
// every strategy and every key and value type.
import { isDeepStrictEqual } from 'node:util'
import * as v8 from 'node:v8'

import fc from 'fast-check'
import { describe, expect, test } from 'vitest'

import { fitsRecords } from '../../lib/records'
import { ThreadMap, type KeyTypeName, type ValueTypeName } from '../../lib/index'
import { KEY_TYPE_NAMES, VALUE_TYPE_NAMES } from '../../lib/native'
import { STRATEGIES } from './helpers'

// --- arbitraries ---------------------------------------------------------------

// Small pools so that operations hit the same keys often.
const stringPool = fc.constantFrom('', 'a', 'b', 'ab', '\uD800', '\uDC00', '\uFFFD', '😀', 'é', '\0')
const numberPool = fc.constantFrom(0, -0, NaN, 1, -1, 1.5, Infinity, -Infinity, 2 ** 53)
const bigintPool = fc.constantFrom(0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 63n, -(2n ** 64n), 2n ** 130n)

const keyArb: Record<KeyTypeName, fc.Arbitrary<unknown>> = {
  string: fc.oneof(stringPool, fc.string({ maxLength: 2 })),
  number: fc.oneof(numberPool, fc.integer({ min: -3, max: 3 })),
  bigint: fc.oneof(bigintPool, fc.bigInt({ min: -3n, max: 3n })),
  bytes: fc.uint8Array({ maxLength: 2, max: 2 }),
  any: fc.oneof(stringPool, numberPool, bigintPool, fc.boolean(), fc.constant(null), fc.constant(undefined), fc.constantFrom('1', 1, 1n, 'true', 'null')),
}

const plainObject = fc.oneof(
  fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.oneof(fc.integer(), fc.string({ maxLength: 3 }), fc.boolean())),
  fc.array(fc.integer(), { maxLength: 3 }),
)
const structuredArb = fc.oneof(
  plainObject,
  fc.date({ noInvalidDate: true }),
  fc.bigInt(),
  fc.constant(undefined),
  fc.string({ maxLength: 3 }),
  fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }).map((xs) => new Map(xs.map((x) => [x, `${x}`]))),
  fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }).map((xs) => new Set(xs)),
  fc.float64Array({ maxLength: 2 }),
)

const valueArb: Record<ValueTypeName, fc.Arbitrary<unknown>> = {
  string: fc.oneof(stringPool, fc.string({ maxLength: 30 })),
  number: fc.oneof(numberPool, fc.integer({ min: -5, max: 5 }), fc.double()),
  bigint: fc.oneof(bigintPool, fc.bigInt({ min: -5n, max: 5n }), fc.bigInt()),
  boolean: fc.boolean(),
  bytes: fc.uint8Array({ maxLength: 40 }),
  json: fc.oneof(fc.jsonValue({ maxDepth: 2 }), plainObject),
  structured: structuredArb,
  any: fc.oneof(stringPool, numberPool, bigintPool, fc.boolean(), fc.constant(null), fc.constant(undefined), structuredArb, fc.integer({ min: -3, max: 3 })),
}

// --- the model -------------------------------------------------------------------

/** The stored form as far as equality goes: what compareAndSet compares. */
function storedForm(type: ValueTypeName, v: unknown): unknown {
  switch (type) {
    case 'json':
      return JSON.stringify(v)
    case 'structured':
      return objectForm(v)
    case 'bytes':
      return Buffer.from(v as Uint8Array).toString('hex')
    case 'any':
      return (typeof v === 'object' && v !== null) || typeof v === 'function' ? `obj:${objectForm(v)}` : v
    default:
      return v
  }
}

// Objects the record writer takes (lib/records.ts, fitsRecords) are stored as records,
// equal when their fields, in order, and values are; the rest as v8.serialize
// bytes.
function objectForm(v: unknown): string {
  if (typeof v === 'object' && v !== null && fitsRecords(v)) {
    return `rec:${JSON.stringify(v, function (this: Record<string, unknown>, k: string) {
      const x = this[k]
      if (typeof x === 'bigint') return { bigint: String(x) }
      if (typeof x === 'number' && !Number.isFinite(x)) return { number: String(x) }
      if (x === undefined) return { undefined: true }
      if (x instanceof Date) return { date: x.getTime() }
      return x
    })}`
  }
  return Buffer.from(v8.serialize(v)).toString('hex')
}

/** What get() returns after set(v): json goes through its text, objects through v8.serialize. */
function roundTrip(type: ValueTypeName, v: unknown): unknown {
  if (type === 'json') return JSON.parse(JSON.stringify(v))
  const isObject = (typeof v === 'object' && v !== null) || typeof v === 'function'
  if (type === 'structured' || (type === 'any' && isObject)) return v8.deserialize(v8.serialize(v))
  return v
}

function modelKey(type: KeyTypeName, k: unknown): unknown {
  if (type === 'bytes') return `bytes:${Buffer.from(k as Uint8Array).toString('hex')}`
  return k // Map's own SameValueZero matches ThreadMap's keys
}

function canonicalKey(k: unknown): unknown {
  return Object.is(k, -0) ? 0 : k // Map stores a -0 key as +0, and so does ThreadMap
}

interface Model {
  // value: what get() returns; form: the stored form of the value as set,
  // which is what compareAndSet compares against (a structured value read
  // back and serialized again need not give the same bytes, e.g. a holey
  // array comes back packed).
  entries: Map<unknown, { key: unknown; value: unknown; form: unknown }>
}

type Op =
  | { op: 'set' | 'getOrSet' | 'setIfAbsent' | 'swap'; key: unknown; value: unknown }
  | { op: 'get' | 'has' | 'delete' | 'take'; key: unknown }
  | { op: 'cas'; key: unknown; expected: 'current' | 'absent' | 'other'; other: unknown; next: unknown; remove: boolean }
  | { op: 'update'; key: unknown; value: unknown }
  | { op: 'add'; key: unknown; delta: number | bigint }
  | { op: 'clear' | 'size' | 'entries' }

function opsArb(keys: KeyTypeName, values: ValueTypeName): fc.Arbitrary<Op[]> {
  const k = keyArb[keys]
  const v = valueArb[values]
  const choices: fc.Arbitrary<Op>[] = [
    fc.record({ op: fc.constantFrom('set', 'getOrSet', 'setIfAbsent', 'swap'), key: k, value: v }) as fc.Arbitrary<Op>,
    fc.record({ op: fc.constantFrom('set'), key: k, value: v }) as fc.Arbitrary<Op>,
    fc.record({ op: fc.constantFrom('get', 'has', 'delete', 'take'), key: k }) as fc.Arbitrary<Op>,
    fc.record({
      op: fc.constant('cas'),
      key: k,
      expected: fc.constantFrom('current', 'absent', 'other'),
      other: v,
      next: v,
      remove: fc.boolean(),
    }) as fc.Arbitrary<Op>,
    fc.record({ op: fc.constant('update'), key: k, value: v }) as fc.Arbitrary<Op>,
    fc.record({ op: fc.constantFrom('clear', 'size', 'entries') }) as fc.Arbitrary<Op>,
  ]
  if (values === 'number' || values === 'any') {
    // -0 deltas are covered by map.atomic.test.ts ("a missing key counts as 0").
    const delta = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.double()).filter((d) => !Object.is(d, -0))
    choices.push(fc.record({ op: fc.constant('add'), key: k, delta }) as fc.Arbitrary<Op>)
  }
  if (values === 'bigint' || values === 'any') {
    choices.push(
      fc.record({ op: fc.constant('add'), key: k, delta: fc.oneof(fc.bigInt({ min: -3n, max: 3n }), bigintPool.filter((x) => x >= -(2n ** 63n) && x < 2n ** 63n)) }) as fc.Arbitrary<Op>,
    )
  }
  return fc.array(fc.oneof(...choices), { maxLength: 40 })
}

// Runs `fn`, returning its result or the class of error it threw.
function outcome(fn: () => unknown): unknown {
  try {
    return { ok: fn() }
  } catch (err) {
    return { threw: err instanceof Error ? err.constructor.name : typeof err }
  }
}

function expectSame(actual: unknown, expected: unknown, context: string): void {
  if (!isDeepStrictEqual(actual, expected)) {
    expect.fail(`${context}: ThreadMap gave ${String(JSON.stringify(actual, replacer))}, Map model ${String(JSON.stringify(expected, replacer))}`)
  }
}
function replacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return `${v}n`
  if (v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString('hex')}`
  if (Object.is(v, -0)) return '-0'
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v)
  return v
}

const storesUndefined = (values: ValueTypeName): boolean => values === 'any' || values === 'structured'

function applyModel(model: Model, keys: KeyTypeName, values: ValueTypeName, o: Op): unknown {
  const e = model.entries
  const key: unknown = 'key' in o ? o.key : undefined
  const mk = 'key' in o ? modelKey(keys, key) : undefined
  const cur = 'key' in o ? e.get(mk) : undefined
  const put = (value: unknown): void => {
    e.set(mk, { key: canonicalKey(key), value: roundTrip(values, value), form: storedForm(values, value) })
  }
  switch (o.op) {
    case 'set':
      put(o.value)
      return { ok: 'this' }
    case 'get':
      return { ok: cur?.value }
    case 'has':
      return { ok: cur !== undefined }
    case 'delete':
      return { ok: e.delete(mk) }
    case 'take':
      e.delete(mk)
      return { ok: cur?.value }
    case 'getOrSet':
      if (cur) return { ok: cur.value }
      put(o.value)
      return { ok: o.value } // the caller's own value, not a copy
    case 'setIfAbsent':
      if (cur) return { ok: false }
      put(o.value)
      return { ok: true }
    case 'swap':
      put(o.value)
      return { ok: cur?.value }
    case 'cas': {
      const expected = o.expected === 'current' ? cur?.value : o.expected === 'absent' ? undefined : o.other
      const next = o.remove ? undefined : o.next
      let matches: boolean
      if (expected === undefined) matches = !cur || (storesUndefined(values) && cur.value === undefined)
      else matches = cur !== undefined && Object.is(cur.form, storedForm(values, expected))
      if (!matches) return { ok: false }
      if (next === undefined) e.delete(mk)
      else put(next)
      return { ok: true }
    }
    case 'update':
      put(o.value)
      return { ok: o.value }
    case 'add': {
      const d = o.delta
      const base = cur?.value
      if (typeof d === 'number') {
        if (cur && typeof base !== 'number') return { threw: 'TypeError' }
        const r = (cur ? (base as number) : 0) + d
        put(r)
        return { ok: r }
      }
      if (cur && typeof base !== 'bigint') return { threw: 'TypeError' }
      // A stored bigint outside int64 is the right type out of a counter's range.
      if (cur && ((base as bigint) >= 2n ** 63n || (base as bigint) < -(2n ** 63n))) return { threw: 'RangeError' }
      const r = (cur ? (base as bigint) : 0n) + d
      if (r >= 2n ** 63n || r < -(2n ** 63n)) return { threw: 'RangeError' }
      put(r)
      return { ok: r }
    }
    case 'clear':
      e.clear()
      return { ok: undefined }
    case 'size':
      return { ok: e.size }
    case 'entries':
      return { ok: canonicalEntries([...e.values()].map((x) => [x.key, x.value])) }
  }
}

function canonicalEntries(entries: [unknown, unknown][]): [unknown, unknown][] {
  const keyText = (k: unknown): string => `${typeof k}:${JSON.stringify(k, replacer) ?? 'undefined'}`
  return entries.sort(([a], [b]) => (keyText(a) < keyText(b) ? -1 : keyText(a) > keyText(b) ? 1 : 0))
}

function applyMap(m: ThreadMap<unknown, unknown>, o: Op, model: Model, keys: KeyTypeName, values: ValueTypeName): unknown {
  return outcome(() => {
    switch (o.op) {
      case 'set':
        return m.set(o.key, o.value) === m ? 'this' : 'not this'
      case 'get':
        return m.get(o.key)
      case 'has':
        return m.has(o.key)
      case 'delete':
        return m.delete(o.key)
      case 'take':
        return m.take(o.key)
      case 'getOrSet':
        return m.getOrSet(o.key, o.value)
      case 'setIfAbsent':
        return m.setIfAbsent(o.key, o.value)
      case 'swap':
        return m.swap(o.key, o.value)
      case 'cas': {
        // "current" is what get() returns now (the model's value, as stored).
        const cur = model.entries.get(modelKey(keys, o.key))?.value
        const expected = o.expected === 'current' ? cur : o.expected === 'absent' ? undefined : o.other
        return m.compareAndSet(o.key, expected, o.remove ? undefined : o.next)
      }
      case 'update': {
        let calls = 0
        const r = m.update(o.key, () => {
          calls++
          return o.value
        })
        if (calls !== 1) throw new Error(`update ran fn ${calls} times without contention`)
        return r
      }
      case 'add':
        return m.add(o.key, o.delta)
      case 'clear':
        return m.clear()
      case 'size':
        return m.size
      case 'entries':
        return canonicalEntries([...m.entries()])
    }
  })
  void values
}

// Key types with values 'any', and value types with keys 'string': every
// codec on each side, without the full cross product.
const combos: [KeyTypeName, ValueTypeName][] = [
  ...KEY_TYPE_NAMES.map((k): [KeyTypeName, ValueTypeName] => [k, 'any']),
  ...VALUE_TYPE_NAMES.filter((v) => v !== 'any').map((v): [KeyTypeName, ValueTypeName] => ['string', v]),
  ['number', 'number'],
  ['bigint', 'bigint'],
]

describe.each(STRATEGIES)('ThreadMap behaves like Map under random operations (%s)', (strategy) => {
  test.each(combos)('keys %s, values %s', (keys, values) => {
    fc.assert(
      fc.property(opsArb(keys, values), (ops) => {
        const m = new ThreadMap<unknown, unknown>(null, { keys, values, strategy })
        const model: Model = { entries: new Map() }
        try {
          ops.forEach((o, i) => {
            const actual = applyMap(m, o, model, keys, values)
            const expected = applyModel(model, keys, values, o)
            expectSame(actual, expected, `step ${i} (${o.op})`)
          })
          expectSame(m.size, model.entries.size, 'final size')
        } finally {
          m.close()
        }
      }),
      { numRuns: 100 },
    )
  })
})
