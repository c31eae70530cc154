// A ThreadMap with maxEntries against a reference model of what a bounded
// map promises (fast-check, random operations): the size never exceeds the
// bound; every acknowledged write reads back its value until it is evicted;
// an evicted key reads as missing until it is written again; a key just
// written is present; and a call during which nothing was evicted
// (stats().evictions unchanged) loses no key.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { EVICTION_NAMES } from '../../lib/native'

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

function check(strategy: 'mutex' | 'rwlock' | 'striped', evict: (typeof EVICTION_NAMES)[number], bound: number, ops: Op[]): void {
  const m = new ThreadMap<number, number>(null, { keys: 'number', values: 'number', strategy, evict, maxEntries: bound })
  // Keys written and not known to be gone, with their values.
  const model = new Map<number, number>()
  try {
    for (const o of ops) {
      const evictionsBefore = m.stats().evictions
      switch (o.op) {
        case 'set':
          m.set(o.key, o.value)
          model.set(o.key, o.value)
          expect(m.peek(o.key)).toBe(o.value)
          break
        case 'get':
        case 'peek': {
          const got = o.op === 'get' ? m.get(o.key) : m.peek(o.key)
          if (got === undefined) model.delete(o.key)
          else expect(got).toBe(model.get(o.key))
          break
        }
        case 'delete': {
          const had = m.delete(o.key)
          if (had) expect(model.has(o.key)).toBe(true)
          model.delete(o.key)
          break
        }
      }
      expect(m.size).toBeLessThanOrEqual(bound)
      const entries = new Map(m.entries())
      expect(entries.size).toBe(m.size)
      for (const [k, v] of entries) expect(model.get(k)).toBe(v)
      if (m.stats().evictions === evictionsBefore) {
        // Nothing evicted: the map holds exactly the model.
        expect(entries.size).toBe(model.size)
      } else {
        for (const k of [...model.keys()]) if (!entries.has(k)) model.delete(k)
      }
    }
  } finally {
    m.close()
  }
}

describe('a bounded map keeps the promises of its reference model', () => {
  for (const strategy of ['mutex', 'rwlock', 'striped'] as const) {
    for (const evict of EVICTION_NAMES) {
      test(`${strategy} / ${evict}`, () => {
        fc.assert(
          fc.property(fc.integer({ min: 1, max: 12 }), fc.array(opArb, { maxLength: 120 }), (bound, ops) => {
            check(strategy, evict, bound, ops)
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
