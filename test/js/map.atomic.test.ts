// The atomic operations beyond Map, by example (map.property.test.ts checks
// them against a model on random sequences).
import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { STRATEGIES } from './helpers'

describe.each(STRATEGIES)('atomic operations (%s)', (strategy) => {
  test('getOrSet and setIfAbsent', () => {
    const m = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    expect(m.getOrSet('a', 1)).toBe(1)
    expect(m.getOrSet('a', 2)).toBe(1)
    expect(m.setIfAbsent('a', 3)).toBe(false)
    expect(m.setIfAbsent('b', 4)).toBe(true)
    expect(m.get('a')).toBe(1)
    expect(m.get('b')).toBe(4)
    const objects = ThreadMap.create({ keys: 'string', values: 'json', strategy })
    const value = { list: [1] }
    expect(objects.getOrSet('k', value)).toBe(value) // inserted: the caller's own value
    expect(objects.getOrSet('k', { list: [2] })).toEqual({ list: [1] })
  })

  test('compareAndSet: match, mismatch, absent, delete', () => {
    const m = new ThreadMap<string, string>(null, { keys: 'string', values: 'string', strategy })
    expect(m.compareAndSet('k', 'x', 'y')).toBe(false) // absent, expected a value
    expect(m.has('k')).toBe(false)
    expect(m.compareAndSet('k', undefined, 'v1')).toBe(true) // insert if absent
    expect(m.compareAndSet('k', undefined, 'v2')).toBe(false) // present now
    expect(m.compareAndSet('k', 'nope', 'v2')).toBe(false)
    expect(m.compareAndSet('k', 'v1', 'v2')).toBe(true)
    expect(m.get('k')).toBe('v2')
    expect(m.compareAndSet('k', 'v1', undefined)).toBe(false)
    expect(m.compareAndSet('k', 'v2', undefined)).toBe(true) // delete if equal
    expect(m.has('k')).toBe(false)
  })

  test("compareAndSet with undefined on 'any' values matches absent and a stored undefined", () => {
    const m = new ThreadMap<string, unknown>(null, { keys: 'string', values: 'any', strategy })
    m.set('u', undefined)
    expect(m.compareAndSet('u', undefined, 1)).toBe(true)
    expect(m.get('u')).toBe(1)
    expect(m.compareAndSet('absent', undefined, 2)).toBe(true)
    expect(m.compareAndSet('absent', undefined, 3)).toBe(false)
    m.set('n', null)
    expect(m.compareAndSet('n', undefined, 4)).toBe(false) // null is not undefined
    expect(m.compareAndSet('n', null, 4)).toBe(true)
  })

  test('compareAndSet compares stored forms: exact for numbers, JSON text, serialized bytes', () => {
    const n = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    n.set('z', -0)
    expect(n.compareAndSet('z', 0, 1)).toBe(false) // -0 and 0 are different values
    expect(n.compareAndSet('z', -0, 1)).toBe(true)
    n.set('nan', NaN)
    expect(n.compareAndSet('nan', NaN, 2)).toBe(true)

    const j = ThreadMap.create({ keys: 'string', values: 'json', strategy })
    j.set('doc', { a: 1, b: [2] })
    expect(j.compareAndSet('doc', { b: [2], a: 1 }, null)).toBe(false) // other key order, other text
    expect(j.compareAndSet('doc', { a: 1, b: [2] }, null)).toBe(true)
    expect(j.get('doc')).toBeNull()

    const s = ThreadMap.create({ keys: 'string', values: 'structured', strategy })
    s.set('d', new Date(5))
    expect(s.compareAndSet('d', new Date(6), new Date(7))).toBe(false)
    expect(s.compareAndSet('d', new Date(5), new Date(7))).toBe(true)
    expect(s.get('d')).toEqual(new Date(7))
  })

  test('swap and take return the previous value', () => {
    const m = new ThreadMap<number, string>(null, { keys: 'number', values: 'string', strategy })
    expect(m.swap(1, 'a')).toBeUndefined()
    expect(m.swap(1, 'b')).toBe('a')
    expect(m.take(1)).toBe('b')
    expect(m.take(1)).toBeUndefined()
    expect(m.size).toBe(0)
    const a = new ThreadMap<string, unknown>(null, { keys: 'string', strategy })
    a.set('u', undefined)
    expect(a.take('u')).toBeUndefined()
    expect(a.has('u')).toBe(false)
  })

  test('add: number and bigint counters; a missing key counts as 0', () => {
    const n = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    expect(n.add('c', 2)).toBe(2)
    expect(n.add('c', 0.5)).toBe(2.5)
    expect(n.add('c', -3)).toBe(-0.5)
    expect(n.get('c')).toBe(-0.5)
    const b = new ThreadMap<string, bigint>(null, { keys: 'string', values: 'bigint', strategy })
    expect(b.add('c', 5n)).toBe(5n)
    expect(b.add('c', -(2n ** 62n))).toBe(5n - 2n ** 62n)
    expect(b.get('c')).toBe(5n - 2n ** 62n)
    const a = new ThreadMap<string, unknown>(null, { keys: 'string', values: 'any', strategy })
    expect(a.add('n', 1)).toBe(1)
    expect(a.add('n', 1)).toBe(2)
    expect(a.add('b', 1n)).toBe(1n)
    expect(a.add('b', 2n)).toBe(3n)
    expect(a.get('n')).toBe(2)
    expect(a.get('b')).toBe(3n)
  })

  test('add of -0 to a missing key gives +0, as 0 + -0 does', () => {
    const n = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    expect(Object.is(n.add('c', -0), 0)).toBe(true)
    expect(Object.is(n.get('c'), 0)).toBe(true)
  })

  test('update: read-modify-write for every value type', () => {
    const n = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    expect(n.update('c', (v) => (v ?? 10) + 1)).toBe(11)
    expect(n.update('c', (v) => (v ?? 10) * 2)).toBe(22)
    const seen: unknown[] = []
    const s = ThreadMap.create({ keys: 'string', values: 'structured', strategy })
    s.set('set', new Set([1]))
    const out = s.update('set', (cur, key) => {
      seen.push(key)
      return new Set([...(cur as Set<number>), 2])
    })
    expect(out).toEqual(new Set([1, 2]))
    expect(s.get('set')).toEqual(new Set([1, 2]))
    expect(seen).toEqual(['set'])
    const j = ThreadMap.create({ keys: 'string', values: 'json', strategy })
    j.update('doc', (cur) => ({ n: ((cur as { n: number } | undefined)?.n ?? 0) + 1 }))
    j.update('doc', (cur) => ({ n: ((cur as { n: number } | undefined)?.n ?? 0) + 1 }))
    expect(j.get('doc')).toEqual({ n: 2 })
  })

  test('update retries when another writer got there first, and fn never runs under a lock', () => {
    const m = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    m.set('k', 1)
    let calls = 0
    const r = m.update('k', (cur) => {
      calls++
      // A write from inside fn: it would deadlock if fn ran under the
      // entry's lock, and it makes the first compare-and-set fail.
      if (calls === 1) m.set('k', 100)
      return (cur ?? 0) + 1
    })
    expect(calls).toBe(2)
    expect(r).toBe(101)
    expect(m.get('k')).toBe(101)
  })

  test('stats', () => {
    const m = new ThreadMap<number, number>(null, { keys: 'number', values: 'number', strategy, capacity: 1000 })
    for (let i = 0; i < 100; i++) m.set(i, i)
    const st = m.stats()
    expect(st.size).toBe(100)
    expect(st.strategy).toBe(strategy)
    expect(st.stripes).toBeGreaterThanOrEqual(1)
    if (strategy === 'mutex') expect(st.stripes).toBe(1)
    expect(st.capacity).toBeGreaterThanOrEqual(100)
    expect(st.bytes).toBeGreaterThan(0)
    expect(st.resizes).toBeGreaterThanOrEqual(0)
    expect(st.maxMemory).toBe(0)
  })
})
