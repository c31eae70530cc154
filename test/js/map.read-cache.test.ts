// The per-thread read cache (readCache option): hits hand out one
// deep-frozen value, writes in any thread are seen by the next get, the least
// recently used entry goes first, and bad options change nothing.
import { describe, expect, test } from 'vitest'

import { liveMaps, ThreadMap } from '../../lib/index'
import { runWorker, STRATEGIES } from './helpers'

const user = { id: 7, name: 'ada', tags: ['a', 'b'], address: { city: 'x', zip: '1' } }

describe.each(STRATEGIES)('read cache (%s)', (strategy) => {
  function make<V>(values: 'any' | 'json' | 'structured' | 'string' | 'number' = 'any', readCache = 8) {
    return new ThreadMap<string, V>(null, { keys: 'string', values, strategy: strategy as never, readCache })
  }

  test.each(['any', 'json', 'structured'] as const)('a hit returns the same deep-frozen object (%s)', (values) => {
    const map = make<typeof user>(values)
    map.set('u', user)
    const a = map.get('u')!
    const b = map.get('u')!
    expect(b).toBe(a)
    expect(a).toEqual(user)
    expect(Object.isFrozen(a) && Object.isFrozen(a.tags) && Object.isFrozen(a.address)).toBe(true)
    expect(() => {
      ;(a.address as { city: string }).city = 'y'
    }).toThrow(TypeError)
    expect(map.stats().readCache).toEqual({ limit: 8, size: 1, hits: 1, misses: 1 })
    // The stored value is the caller's copy: freezing never touched it.
    expect(Object.isFrozen(user)).toBe(false)
    map.close()
  })

  test('a write in this thread is seen by the next get', () => {
    const map = make<unknown>()
    map.set('k', { v: 1 })
    expect(map.get('k')).toEqual({ v: 1 })
    map.set('k', { v: 2 })
    expect(map.get('k')).toEqual({ v: 2 })
    map.compareAndSet('k', undefined, undefined) // fails: changes nothing
    map.add('n', 1)
    expect(map.get('n')).toBe(1)
    map.add('n', 1)
    expect(map.get('n')).toBe(2)
    map.delete('k')
    expect(map.get('k')).toBeUndefined()
    map.set('k', 3)
    expect(map.get('k')).toBe(3)
    map.clear()
    expect(map.get('k')).toBeUndefined()
    expect(map.get('n')).toBeUndefined()
    map.close()
  })

  test("a write acknowledged in a worker is seen by the main thread's next get", async () => {
    const map = make<unknown>()
    map.set('k', { v: 1 })
    expect(map.get('k')).toEqual({ v: 1 })
    expect(map.get('k')).toEqual({ v: 1 }) // now a hit
    const before = map.stats().readCache!.hits
    expect(before).toBe(1)
    const r = await runWorker<{ readCache: unknown }>('read-cache-writer.mjs', {
      handle: map.handle(),
      key: 'k',
      value: { v: 2 },
    })
    // The worker's map has a read cache of the same size (the option travels with the map).
    expect(r.readCache).toEqual({ limit: 8, size: 0, hits: 0, misses: 0 })
    expect(map.get('k')).toEqual({ v: 2 })
    await runWorker('read-cache-writer.mjs', { handle: map.handle(), key: 'k', del: true })
    expect(map.get('k')).toBeUndefined()
    expect(map.stats().readCache!.hits).toBe(before)
    map.close()
  })

  test('eviction drops an entry not used since the clock last passed it (CLOCK), not a used one', () => {
    const map = make<unknown>('any', 2)
    for (const k of ['a', 'b', 'c']) map.set(k, { k })
    map.get('a')
    map.get('b')
    map.get('a') // hit: a is now the most recent
    map.get('c') // evicts b
    expect(map.stats().readCache).toMatchObject({ size: 2, hits: 1, misses: 3 })
    map.get('a') // hit
    map.get('b') // miss: was evicted
    expect(map.stats().readCache).toMatchObject({ size: 2, hits: 2, misses: 4 })
    map.close()
  })

  test('random gets, sets, deletes and unfreezable values over more keys than the limit', () => {
    // Slots are reused by eviction, by delete and by a value that cannot be
    // frozen: every get must still return the key's current value.
    const map = make<unknown>('structured', 5)
    const model = new Map<string, unknown>()
    let seed = 7
    const next = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n)
    let wrong = 0
    for (let i = 0; i < 4000; i++) {
      const k = `k${next(12)}`
      const op = next(10)
      if (op < 6) {
        const got = map.get(k)
        if (JSON.stringify(got) !== JSON.stringify(model.get(k))) wrong++
      } else if (op < 8) {
        const v = next(4) === 0 ? { k, when: new Date(i) } : { k, i }
        map.set(k, v)
        model.set(k, v)
      } else {
        map.delete(k)
        model.delete(k)
      }
      if (map.stats().readCache!.size > 5) wrong++
    }
    expect(wrong).toBe(0)
    const st = map.stats().readCache!
    expect(st.hits).toBeGreaterThan(0)
    expect(st.misses).toBeGreaterThan(0)
    map.close()
  })

  test('values that cannot be frozen whole are returned fresh each time', () => {
    const map = make<unknown>('structured')
    map.set('d', new Date(5))
    map.set('m', new Map([[1, 2]]))
    map.set('o', { when: new Date(1) })
    for (const k of ['d', 'm', 'o']) {
      const a = map.get(k)
      const b = map.get(k)
      expect(b).not.toBe(a)
      expect(b).toEqual(a)
      expect(Object.isFrozen(a)).toBe(false)
    }
    expect(map.stats().readCache).toMatchObject({ size: 0, hits: 0, misses: 6 })
    map.close()
  })

  test('primitive values: strings and numbers', () => {
    const s = make<string>('string')
    s.set('k', 'hello')
    expect(s.get('k')).toBe('hello')
    expect(s.get('k')).toBe('hello')
    const n = make<number>('number')
    n.set('k', 1.5)
    expect(n.get('k')).toBe(1.5)
    expect(n.get('k')).toBe(1.5)
    n.set('k', 2.5)
    expect(n.get('k')).toBe(2.5)
    expect(n.stats().readCache).toMatchObject({ hits: 1, misses: 2 })
    expect(s.stats().readCache).toMatchObject({ hits: 1, misses: 1 })
    s.close()
    n.close()
  })

  test('number keys travel in the io buffer', () => {
    const map = new ThreadMap<number, unknown>(null, { keys: 'number', strategy: strategy as never, readCache: 4 })
    map.set(1, { a: 1 })
    expect(map.get(1)).toBe(map.get(1))
    map.set(1, { a: 2 })
    expect(map.get(1)).toEqual({ a: 2 })
    map.close()
  })
})

describe('read cache options', () => {
  test.each([
    [-1, RangeError],
    [1.5, RangeError],
    [Number.NaN, RangeError],
    ['3', TypeError],
    [null, TypeError],
    [{}, TypeError],
  ])('readCache %s is a %s that creates nothing', (bad, kind) => {
    const before = liveMaps()
    expect(() => new ThreadMap(null, { readCache: bad as never })).toThrow(kind)
    expect(liveMaps()).toBe(before)
  })

  test('bytes keys compare by content, which the cache cannot: a TypeError', () => {
    const before = liveMaps()
    expect(() => new ThreadMap(null, { keys: 'bytes', readCache: 2 })).toThrow(TypeError)
    expect(liveMaps()).toBe(before)
  })

  test('without the option there is no cache and stats() has no readCache', () => {
    const map = new ThreadMap<string, unknown>(null, { readCache: 0 })
    map.set('k', { a: 1 })
    expect(map.get('k')).not.toBe(map.get('k'))
    expect(map.stats().readCache).toBeUndefined()
    map.close()
  })
})
