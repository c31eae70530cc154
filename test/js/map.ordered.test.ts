// strategy 'ordered': iteration in key order and range reads, against a
// sorted-array model (fast-check) for every key type; bad range input is a
// TypeError or RangeError that changes nothing; a range read while worker
// threads write sees every key present throughout exactly once, in order.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'

import { ThreadMap, type KeyTypeName, type RangeOptions } from '../../lib/index'
import { KEY_TYPE_NAMES as KEY_TYPES } from '../../lib/native'
import { exited, message, runWorker, startWorker } from './helpers'

// --- the model's key order (README, "The ordered strategy") --------------------

function codePoints(s: string): number[] {
  const out: number[] = []
  for (const ch of s) out.push(ch.codePointAt(0) as number)
  return out
}

function compareSeq(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1
  return a.length - b.length
}

function compareNumber(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number(Number.isNaN(a)) - Number(Number.isNaN(b))
  return a < b ? -1 : a > b ? 1 : 0
}

// `any` keys sort by type first: undefined, null, false, true, numbers, strings, bigints.
function anyRank(k: unknown): number {
  if (k === undefined) return 0
  if (k === null) return 1
  if (k === false) return 2
  if (k === true) return 3
  return { number: 4, string: 5, bigint: 6 }[typeof k as 'number' | 'string' | 'bigint']
}

function compareKeys(type: KeyTypeName, a: unknown, b: unknown): number {
  switch (type) {
    case 'string':
      return compareSeq(codePoints(a as string), codePoints(b as string))
    case 'number':
      return compareNumber(a as number, b as number)
    case 'bigint':
      return (a as bigint) < (b as bigint) ? -1 : (a as bigint) > (b as bigint) ? 1 : 0
    case 'bytes':
      return compareSeq(a as Uint8Array, b as Uint8Array)
    case 'any': {
      const ra = anyRank(a)
      const rb = anyRank(b)
      if (ra !== rb) return ra - rb
      if (ra === 4) return compareKeys('number', a, b)
      if (ra === 5) return compareKeys('string', a, b)
      if (ra === 6) return compareKeys('bigint', a, b)
      return 0
    }
  }
}

const stringPool = fc.constantFrom('', 'a', 'b', 'ab', '\uD800', '\uDC00', '\uFFFD', '\uE000', '😀', 'é', '\0')
const numberPool = fc.constantFrom(0, -0, NaN, 1, -1, 1.5, -1.5, Infinity, -Infinity, 2 ** 53, -(2 ** 60), 5e-324)
const bigintPool = fc.constantFrom(0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 63n, -(2n ** 64n), 2n ** 130n, -(2n ** 130n))

const keyArb: Record<KeyTypeName, fc.Arbitrary<unknown>> = {
  string: fc.oneof(stringPool, fc.string({ maxLength: 3, unit: 'binary' })),
  number: fc.oneof(numberPool, fc.integer({ min: -5, max: 5 }), fc.double()),
  bigint: fc.oneof(bigintPool, fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n })),
  bytes: fc.uint8Array({ maxLength: 3, max: 3 }),
  any: fc.oneof(stringPool, numberPool, bigintPool, fc.boolean(), fc.constant(null), fc.constant(undefined)),
}

// Map's SameValueZero, and bytes by content.
function identity(type: KeyTypeName, k: unknown): unknown {
  if (type === 'bytes') return Buffer.from(k as Uint8Array).toString('hex')
  return k
}

type Model = Map<unknown, [unknown, number]>

function sortedModel(type: KeyTypeName, model: Model): [unknown, number][] {
  return [...model.values()].sort((x, y) => compareKeys(type, x[0], y[0]))
}

function inRange(type: KeyTypeName, k: unknown, r: RangeOptions<unknown>): boolean {
  // An undefined bound is no bound.
  if (r.gte !== undefined && compareKeys(type, k, r.gte) < 0) return false
  if (r.gt !== undefined && compareKeys(type, k, r.gt) <= 0) return false
  if (r.lte !== undefined && compareKeys(type, k, r.lte) > 0) return false
  if (r.lt !== undefined && compareKeys(type, k, r.lt) >= 0) return false
  return true
}

function expected(type: KeyTypeName, model: Model, r: RangeOptions<unknown>): [unknown, number][] {
  let out = sortedModel(type, model).filter(([k]) => inRange(type, k, r))
  if (r.reverse) out = out.reverse()
  if (r.limit !== undefined) out = out.slice(0, r.limit)
  return out
}

function rangeArb(type: KeyTypeName): fc.Arbitrary<RangeOptions<unknown>> {
  const k = keyArb[type]
  return fc
    .record(
      {
        lower: fc.option(fc.tuple(fc.boolean(), k), { nil: undefined }),
        upper: fc.option(fc.tuple(fc.boolean(), k), { nil: undefined }),
        reverse: fc.option(fc.boolean(), { nil: undefined }),
        limit: fc.option(fc.nat(6), { nil: undefined }),
      },
      { requiredKeys: [] },
    )
    .map(({ lower, upper, reverse, limit }) => {
      const r: RangeOptions<unknown> = {}
      if (lower) r[lower[0] ? 'gte' : 'gt'] = lower[1]
      if (upper) r[upper[0] ? 'lte' : 'lt'] = upper[1]
      if (reverse !== undefined) r.reverse = reverse
      if (limit !== undefined) r.limit = limit
      return r
    })
    .filter((r) => {
      // a lower bound above the upper one is a RangeError (tested below)
      const lo = r.gte !== undefined ? r.gte : r.gt
      const hi = r.lte !== undefined ? r.lte : r.lt
      return lo === undefined || hi === undefined || compareKeys(type, lo, hi) <= 0
    })
}

const ordered = (type: KeyTypeName): ThreadMap<unknown, number> =>
  new ThreadMap<unknown, number>(null, { strategy: 'ordered', keys: type, values: 'number' })

describe.each(KEY_TYPES)('ordered maps: ranges against a sorted array (%s keys)', (type) => {
  test('entries, keys, values, first and last agree with the model', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), keyArb[type]), { maxLength: 40 }),
        fc.array(rangeArb(type), { minLength: 1, maxLength: 6 }),
        (ops, ranges) => {
          const map = ordered(type)
          const model: Model = new Map()
          ops.forEach(([del, k], i) => {
            if (del) {
              map.delete(k)
              model.delete(identity(type, k))
            } else {
              map.set(k, i)
              // -0 is stored as 0: the model keeps the key as iteration gives it back.
              model.set(identity(type, k), [Object.is(k, -0) ? 0 : k, i])
            }
          })
          try {
            expect([...map]).toEqual(sortedModel(type, model))
            for (const r of ranges) {
              const want = expected(type, model, r)
              expect([...map.entries(r)]).toEqual(want)
              expect([...map.keys(r)]).toEqual(want.map(([k]) => k))
              expect([...map.values(r)]).toEqual(want.map(([, v]) => v))
            }
            const all = sortedModel(type, model)
            expect(map.first()).toEqual(all[0])
            expect(map.last()).toEqual(all[all.length - 1])
          } finally {
            map.close()
          }
        },
      ),
      { numRuns: 60 },
    )
  })
})

// A map holding two entries.
function seeded(map: ThreadMap<unknown, number>, keys: unknown[]): ThreadMap<unknown, number> {
  keys.forEach((k, i) => map.set(k, i))
  return map
}

describe('ordered maps: bad range input changes nothing', () => {
  const cases: [string, () => ThreadMap<unknown, number>, RangeOptions<unknown> | unknown, typeof TypeError][] = [
    ['gt with gte', () => seeded(ordered('number'), [1, 2]), { gt: 1, gte: 2 }, TypeError],
    ['lt with lte', () => seeded(ordered('number'), [1, 2]), { lt: 1, lte: 2 }, TypeError],
    ['a bound of the wrong key type', () => seeded(ordered('number'), [1, 2]), { gte: '1' }, TypeError],
    ['a bigint bound on number keys', () => seeded(ordered('number'), [1, 2]), { lt: 1n }, TypeError],
    ['an object bound on any keys', () => seeded(ordered('any'), [1, 'a']), { gte: {} }, TypeError],
    ['lower above upper', () => seeded(ordered('number'), [1, 2]), { gte: 5, lte: 4 }, RangeError],
    ['lower above upper (strings)', () => seeded(ordered('string'), ['a', 'b']), { gt: 'b', lt: 'a' }, RangeError],
    ['a negative limit', () => seeded(ordered('number'), [1, 2]), { limit: -1 }, RangeError],
    ['a fractional limit', () => seeded(ordered('number'), [1, 2]), { limit: 1.5 }, RangeError],
    ['a NaN limit', () => seeded(ordered('number'), [1, 2]), { limit: NaN }, RangeError],
    ['a limit that is a string', () => seeded(ordered('number'), [1, 2]), { limit: '3' }, TypeError],
    ['reverse that is not a boolean', () => seeded(ordered('number'), [1, 2]), { reverse: 'yes' }, TypeError],
    ['an unknown option', () => seeded(ordered('number'), [1, 2]), { gteq: 1 }, TypeError],
    ['options that are not an object', () => seeded(ordered('number'), [1, 2]), 5, TypeError],
    ['range options on a hash strategy', () => seeded(new ThreadMap<unknown, number>(null, { values: 'number' }), [1, 2]), { gte: 1 }, TypeError],
    ['empty options on a hash strategy', () => seeded(new ThreadMap<unknown, number>(null, { values: 'number', strategy: 'lockfree' }), [1, 2]), {}, TypeError],
  ]
  test.each(cases)('%s', (_name, make, range, kind) => {
    const map = make()
    const before = [...map]
    expect(before.length).toBe(2)
    for (const call of [
      () => map.entries(range as RangeOptions<unknown>),
      () => map.keys(range as RangeOptions<unknown>),
      () => map.values(range as RangeOptions<unknown>),
    ]) {
      expect(call).toThrow(kind)
    }
    if (map.strategy !== 'ordered') {
      expect(() => map.entries(range as RangeOptions<unknown>)).toThrow(/'ordered'/)
      expect(() => map.first()).toThrow(/'ordered'/)
      expect(() => map.last()).toThrow(TypeError)
    }
    expect([...map]).toEqual(before)
    expect(map.size).toBe(before.length)
    map.close()
  })

  test('equal bounds with one side exclusive are an empty range, not an error', () => {
    const map = ordered('number')
    map.set(1, 1)
    expect([...map.keys({ gt: 1, lte: 1 })]).toEqual([])
    expect([...map.keys({ gte: 1, lte: 1 })]).toEqual([1])
    expect([...map.keys({ limit: 0 })]).toEqual([])
    expect([...map.keys({ limit: Infinity })]).toEqual([1])
    map.close()
  })

  test('first() and last() of an empty map are undefined; a closed map throws', () => {
    const map = ordered('string')
    expect(map.first()).toBeUndefined()
    expect(map.last()).toBeUndefined()
    map.close()
    expect(() => map.first()).toThrow(Error)
    expect(() => map.entries({ gte: 'a' })).toThrow(Error)
  })
})

describe('ordered maps: reads while workers write', () => {
  test('a worker that attaches the handle reads the same order and ranges', async () => {
    const map = new ThreadMap<bigint, number>(null, { strategy: 'ordered', keys: 'bigint', values: 'number' })
    for (const k of [2n ** 64n, -(2n ** 70n), 5n, -2n, 0n, 2n ** 65n]) map.set(k, Number(k % 7n))
    const r = await runWorker<{ strategy: string; keys: bigint[]; reverse: bigint[]; first: unknown; last: unknown }>(
      'ordered-range.mjs',
      { handle: map.handle() },
    )
    expect(r.strategy).toBe('ordered')
    expect(r.keys).toEqual([0n, 5n, 2n ** 64n])
    expect(r.reverse).toEqual([2n ** 65n, 2n ** 64n])
    expect(r.first).toEqual([-(2n ** 70n), Number(-(2n ** 70n) % 7n)])
    expect(r.last).toEqual([2n ** 65n, Number(2n ** 65n % 7n)])
    map.close()
  })

  test('a range read sees every stable key in it exactly once, in order', async () => {
    const STABLE = 3000
    const map = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy: 'ordered' })
    for (let i = 0; i < STABLE; i++) map.set(`stable:${i}`, -1)
    const handle = map.handle()
    const workers = [0, 1].map((id) => startWorker('churn.mjs', { handle, id, stable: STABLE }))
    const results = workers.map((w) => message<{ writes: number }>(w, 'result'))
    const exits = workers.map(exited)
    await Promise.all(workers.map((w) => message(w, 'ready')))

    // The stable keys between two bounds, as the model sorts them.
    const inside = (lo: string, hi: string): string[] =>
      Array.from({ length: STABLE }, (_, i) => `stable:${i}`)
        .filter((k) => k >= lo && k < hi)
        .sort()
    for (let it = 0; it < 8; it++) {
      const reverse = it % 2 === 1
      const lo = `stable:${it % 7}`
      const hi = 'stable;' // just past every 'stable:' key
      const keys = [...map.keys({ gte: lo, lt: hi, reverse })]
      for (let i = 1; i < keys.length; i++) expect(keys[i - 1] < keys[i]).toBe(!reverse)
      // only stable keys start with 'stable:', and each is seen once
      const want = inside(lo, hi)
      expect(reverse ? keys.reverse() : keys).toEqual(want)
      // the whole map, in order, with the volatile keys the workers wrote
      const all = [...map.keys()]
      for (let i = 1; i < all.length; i++) expect(all[i - 1] < all[i]).toBe(true)
      expect(all.filter((k) => k.startsWith('stable:')).length).toBe(STABLE)
    }
    map.set('stop', 1)
    const writes = await Promise.all(results)
    expect(await Promise.all(exits)).toEqual([0, 0])
    for (const w of writes) expect(w.writes).toBeGreaterThan(0)
    expect(map.first()?.[0]).toBe('stable:0')
    map.close()
  })
})
