// A ThreadMap with maxEntries against a reference model of what a bounded
// map promises (fast-check, random operations): the size never exceeds the
// bound; every acknowledged write reads back its value until it is evicted;
// an evicted key reads as missing until it is written again; a key just
// written is present; and a call during which nothing was evicted
// (stats().evictions unchanged) loses no key.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { addon, EVICTION_NAMES } from '../../lib/native'

import { FLAT_TABLE_STRATEGIES } from './helpers'

type Op =
  | { op: 'set'; key: number; value: number }
  | { op: 'get'; key: number }
  | { op: 'peek'; key: number }
  | { op: 'delete'; key: number }

const keyArb = fc.integer({ min: 0, max: 23 })
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), key: keyArb, value: fc.integer() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('get' as const), key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('peek' as const), key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), key: keyArb }) },
)

describe('a bounded map keeps the promises of its reference model', () => {
  for (const strategy of FLAT_TABLE_STRATEGIES) {
    for (const evict of EVICTION_NAMES) {
      test(`${strategy} / ${evict}`, () => {
        fc.assert(
          fc.property(fc.integer({ min: 1, max: 12 }), fc.array(opArb, { maxLength: 120 }), (bound, ops) => {
            check(strategy, evict, bound, null, ops)
          }),
          { numRuns: 60 },
        )
      })
    }
  }
})

test('get after set returns it while the map is below its bound', () => {
  for (const evict of EVICTION_NAMES) {
    const m = new ThreadMap<number, string>(null, { keys: 'number', values: 'string', strategy: 'mutex', evict, maxEntries: 1000 })
    for (let i = 0; i < 1000; i++) m.set(i, `v${i}`)
    for (let i = 0; i < 1000; i++) expect(m.get(i)).toBe(`v${i}`)
    expect(m.stats().evictions).toBe(0)
    m.set(1000, 'over')
    expect(m.stats().evictions).toBe(1)
    expect(m.size).toBe(1000)
    expect(m.get(1000)).toBe('over')
    m.close()
  }
})

// Eviction and expiry at once, on the map's test clock (no sleeps): the
// model keeps each key's value and deadline. An entry past its deadline
// must read as missing, definitely; one before it reads its value unless
// it was evicted; the map never holds more than its bound nor any expired
// entry in iteration; and a call that evicted nothing (stats().evictions
// unchanged) loses no live key.
type TimedOp = Op | { op: 'advance'; ms: number } | { op: 'setFor'; key: number; value: number; ttl: number }

const timedOpArb: fc.Arbitrary<TimedOp> = fc.oneof(
  { weight: 8, arbitrary: opArb },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 15 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('setFor' as const),
      key: keyArb,
      value: fc.integer(),
      ttl: fc.integer({ min: 0, max: 20 }),
    }),
  },
)

// One check for both suites. `ttl` null: a map without expiry (its clock is
// never read, and the ops never move it); a number: the map's default ttl
// (0: none) on its test clock, which moves only by the `advance` ops.
function check(
  strategy: 'mutex' | 'rwlock' | 'striped',
  evict: (typeof EVICTION_NAMES)[number],
  bound: number,
  ttl: number | null,
  ops: TimedOp[],
): void {
  const expiring = ttl !== null
  const m = new ThreadMap<number, number>(null, {
    keys: 'number',
    values: 'number',
    strategy,
    evict,
    maxEntries: bound,
    ...(expiring ? { ttl } : {}),
  })
  const id = m.handle().id
  if (expiring) addon.testAdvanceClock(id, 0) // the map's clock stops, and moves only below
  let now = 0
  // key -> [value, deadline (Infinity: none)], for keys written and not known to be gone.
  const model = new Map<number, [number, number]>()
  const live = (k: number): [number, number] | undefined => {
    const e = model.get(k)
    return e !== undefined && e[1] > now ? e : undefined
  }
  try {
    for (const o of ops) {
      const evictionsBefore = m.stats().evictions
      switch (o.op) {
        case 'advance':
          addon.testAdvanceClock(id, o.ms)
          now += o.ms
          break
        case 'set':
        case 'setFor': {
          const ms = o.op === 'set' ? (ttl ?? 0) : o.ttl
          if (o.op === 'set') m.set(o.key, o.value)
          else m.set(o.key, o.value, { ttl: o.ttl })
          model.set(o.key, [o.value, ms === 0 ? Infinity : now + ms])
          expect(m.peek(o.key)).toBe(o.value) // ttl >= 1 ms: live until the clock moves
          break
        }
        case 'get':
        case 'peek': {
          const got = o.op === 'get' ? m.get(o.key) : m.peek(o.key)
          const e = live(o.key)
          if (e === undefined) expect(got).toBeUndefined()
          else if (got === undefined) model.delete(o.key) // evicted
          else expect(got).toBe(e[0])
          break
        }
        case 'delete': {
          const had = m.delete(o.key)
          if (had) expect(live(o.key)).toBeDefined()
          model.delete(o.key)
          break
        }
      }
      expect(m.size).toBeLessThanOrEqual(bound)
      const entries = new Map(m.entries())
      // size counts expired entries not yet reclaimed; iteration never shows them.
      if (!expiring) expect(entries.size).toBe(m.size)
      for (const [k, v] of entries) expect(live(k)?.[0]).toBe(v)
      for (const k of [...model.keys()]) if (live(k) === undefined) model.delete(k)
      if (m.stats().evictions === evictionsBefore) {
        // Nothing evicted: the map holds exactly the model's live entries.
        expect(entries.size).toBe(model.size)
      } else {
        for (const k of [...model.keys()]) if (!entries.has(k)) model.delete(k)
      }
    }
  } finally {
    m.close()
  }
}

describe('a bounded map that expires keeps the promises of its reference model', () => {
  for (const strategy of FLAT_TABLE_STRATEGIES) {
    for (const evict of EVICTION_NAMES) {
      test(`${strategy} / ${evict}`, () => {
        fc.assert(
          fc.property(
            fc.integer({ min: 1, max: 12 }),
            fc.integer({ min: 0, max: 20 }),
            fc.array(timedOpArb, { maxLength: 120 }),
            (bound, ttl, ops) => {
              check(strategy, evict, bound, ttl, ops)
            },
          ),
          { numRuns: 60 },
        )
      })
    }
  }
})
