// A write's own ttl on the atomic writes (issue 15): setIfAbsent, getOrSet,
// compareAndSet, swap, add and update take `{ ttl }` as set does. Each
// expires at exactly its own deadline; a write that stores nothing keeps
// the entry's deadline; add's ttl is the counter's window (set when the
// counter is created, kept by later adds); noUpdateTTL; expire events for
// what they stored; a bad ttl of every kind, or a ttl on a map made without
// one, throws before anything changes. The clock is the map's test clock
// (addon.testAdvanceClock): no test sleeps.
import { describe, expect, test } from 'vitest'

import { ThreadMap, type WatchEvent } from '../../lib/index'
import { timed, FLAT_TABLE_STRATEGIES } from './helpers'

const EXPIRING = FLAT_TABLE_STRATEGIES

type Writer = (map: ThreadMap<string, number>, key: string, value: number, ttl: number) => void

// Each atomic write that stores `value` under an absent key with its own ttl.
const STORES: [string, Writer][] = [
  ['setIfAbsent', (m, k, v, ttl) => void expect(m.setIfAbsent(k, v, { ttl })).toBe(true)],
  ['getOrSet', (m, k, v, ttl) => void expect(m.getOrSet(k, v, { ttl })).toBe(v)],
  ['compareAndSet', (m, k, v, ttl) => void expect(m.compareAndSet(k, undefined, v, { ttl })).toBe(true)],
  ['swap', (m, k, v, ttl) => void expect(m.swap(k, v, { ttl })).toBeUndefined()],
  ['add', (m, k, v, ttl) => void expect(m.add(k, v, { ttl })).toBe(v)],
  ['update', (m, k, v, ttl) => void expect(m.update(k, () => v, { ttl })).toBe(v)],
]

describe.each(EXPIRING)('atomic writes with their own ttl on %s', (strategy) => {
  for (const keys of ['string', 'any'] as const) {
    // 'any' keys that are numbers take the io buffer's path (ioAdd and the rest).
    test.each(STORES)(`%s stores with its own ttl and expires at exactly that deadline (keys ${keys})`, (_name, write) => {
      const { map, advance } = timed<string, number>({ keys, values: 'number', strategy, ttl: 1000 })
      const k = (keys === 'any' ? 7 : 'k') as unknown as string
      write(map, k, 5, 30)
      expect(map.getRemainingTTL(k)).toBe(30)
      advance(29)
      expect(map.get(k)).toBe(5)
      expect(map.getRemainingTTL(k)).toBe(1)
      advance(1)
      expect(map.get(k)).toBeUndefined()
      expect(map.has(k)).toBe(false)
      // ttl 0: never, whatever the map's ttl.
      write(map, 'forever', 1, 0)
      expect(map.getRemainingTTL('forever')).toBe(Infinity)
      advance(10_000)
      expect(map.get('forever')).toBe(1)
      map.close()
    })
  }

  test('setIfAbsent and getOrSet that find the key change nothing, its deadline included', () => {
    const { map, advance } = timed<string, number>({ keys: 'string', values: 'number', strategy, ttl: 100 })
    map.set('k', 1, { ttl: 50 })
    advance(20)
    expect(map.setIfAbsent('k', 2, { ttl: 500 })).toBe(false)
    expect(map.getOrSet('k', 3, { ttl: 500 })).toBe(1)
    expect(map.setIfAbsent('k', 2)).toBe(false) // the map's ttl does not apply either
    expect(map.getRemainingTTL('k')).toBe(30)
    expect(map.get('k')).toBe(1)
    advance(30)
    expect(map.has('k')).toBe(false)
    // Expired is absent: the next one stores, with its own ttl.
    expect(map.getOrSet('k', 4, { ttl: 5 })).toBe(4)
    expect(map.getRemainingTTL('k')).toBe(5)
    map.close()
  })

  test('compareAndSet and update give what they store their ttl; a failed one keeps the deadline', () => {
    const { map, advance } = timed<string, number>({ keys: 'string', values: 'number', strategy, ttl: 100 })
    map.set('k', 1)
    advance(10)
    expect(map.compareAndSet('k', 9, 2, { ttl: 5 })).toBe(false)
    expect(map.getRemainingTTL('k')).toBe(90)
    expect(map.compareAndSet('k', 1, 2, { ttl: 5 })).toBe(true)
    expect(map.getRemainingTTL('k')).toBe(5)
    expect(map.compareAndSet('k', 2, 3)).toBe(true) // no ttl of its own: the map's
    expect(map.getRemainingTTL('k')).toBe(100)
    expect(map.update('k', (v) => (v ?? 0) + 1, { ttl: 7 })).toBe(4)
    expect(map.getRemainingTTL('k')).toBe(7)
    advance(6)
    expect(map.get('k')).toBe(4)
    advance(1)
    expect(map.get('k')).toBeUndefined()
    // A compareAndSet that deletes takes a ttl and deletes.
    map.set('d', 1)
    expect(map.compareAndSet('d', 1, undefined, { ttl: 5 })).toBe(true)
    expect(map.has('d')).toBe(false)
    map.close()
  })

  test('swap gives the new value its ttl and returns the old', () => {
    const { map, advance } = timed<string, number>({ keys: 'string', values: 'number', strategy, ttl: 100 })
    map.set('k', 1)
    expect(map.swap('k', 2, { ttl: 3 })).toBe(1)
    expect(map.getRemainingTTL('k')).toBe(3)
    advance(3)
    expect(map.swap('k', 3, { ttl: 4 })).toBeUndefined()
    expect(map.getRemainingTTL('k')).toBe(4)
    map.close()
  })

  test("add's ttl is the counter's window: set when it is created, kept by later adds", () => {
    // A rate limiter: at most 3 hits per 60 s window per user.
    const { map, advance } = timed<string, number>({ keys: 'string', values: 'number', strategy, ttl: 0 })
    const hit = (user: string): boolean => map.add(user, 1, { ttl: 60_000 }) <= 3
    expect(hit('ada')).toBe(true)
    advance(20_000)
    expect(hit('ada')).toBe(true)
    advance(20_000)
    expect(hit('ada')).toBe(true)
    expect(hit('ada')).toBe(false) // the fourth in the window
    expect(map.getRemainingTTL('ada')).toBe(20_000) // not moved on by the adds
    advance(19_999)
    expect(map.get('ada')).toBe(4)
    advance(1) // the window closes 60 s after the first hit
    expect(map.get('ada')).toBeUndefined()
    expect(hit('ada')).toBe(true) // a new window, counting from zero
    expect(map.get('ada')).toBe(1)
    expect(map.getRemainingTTL('ada')).toBe(60_000)
    // A counter that has no deadline keeps none: the ttl is the creating add's.
    map.set('plain', 10)
    expect(map.add('plain', 1, { ttl: 5 })).toBe(11)
    expect(map.getRemainingTTL('plain')).toBe(Infinity)
    map.close()
  })

  test('add with a ttl counts bigints and any values as add does', () => {
    const big = timed<string, bigint>({ keys: 'string', values: 'bigint', strategy, ttl: 0 })
    expect(big.map.add('n', 5n, { ttl: 10 })).toBe(5n)
    expect(big.map.add('n', 2n, { ttl: 99 })).toBe(7n)
    expect(big.map.getRemainingTTL('n')).toBe(10)
    expect(() => big.map.add('n', 1, { ttl: 10 } as never)).toThrow(TypeError)
    big.advance(10)
    expect(big.map.add('n', 1n, { ttl: 10 })).toBe(1n)
    big.map.close()
    const any = timed<number, unknown>({ keys: 'number', values: 'any', strategy, ttl: 0 })
    expect(any.map.add(1, 1.5, { ttl: 10 })).toBe(1.5)
    expect(any.map.add(2, 1n, { ttl: 20 })).toBe(1n)
    expect(any.map.getRemainingTTL(1)).toBe(10)
    expect(any.map.getRemainingTTL(2)).toBe(20)
    any.map.close()
  })

  test('an add without a ttl follows the map: a fresh deadline unless noUpdateTTL', () => {
    for (const noUpdateTTL of [false, true]) {
      const { map, advance } = timed<string, number>({ keys: 'string', values: 'number', strategy, ttl: 100, noUpdateTTL })
      expect(map.add('n', 1, { ttl: 10 })).toBe(1)
      advance(4)
      expect(map.add('n', 1)).toBe(2)
      expect(map.getRemainingTTL('n')).toBe(noUpdateTTL ? 6 : 100)
      map.close()
    }
  })

  test('noUpdateTTL: an overwrite with its own ttl keeps the deadline, as set does', () => {
    const { map, advance } = timed<string, number>({ keys: 'string', values: 'number', strategy, ttl: 100, noUpdateTTL: true })
    map.set('k', 1)
    advance(40)
    map.set('k', 2, { ttl: 5 })
    expect(map.getRemainingTTL('k')).toBe(60)
    expect(map.compareAndSet('k', 2, 3, { ttl: 5 })).toBe(true)
    expect(map.swap('k', 4, { ttl: 5 })).toBe(3)
    expect(map.update('k', () => 5, { ttl: 5 })).toBe(5)
    expect(map.getRemainingTTL('k')).toBe(60)
    // A new key takes the write's own ttl.
    expect(map.compareAndSet('new', undefined, 1, { ttl: 5 })).toBe(true)
    expect(map.getRemainingTTL('new')).toBe(5)
    map.close()
  })

  test('what the atomics stored with their own ttl expires as watch events', async () => {
    const { map, advance } = timed<string, number>({ keys: 'string', values: 'number', strategy, ttl: 0 })
    const w = map.watch({ ref: true })
    const names = STORES.map(([name]) => name)
    STORES.forEach(([, write], i) => write(map, names[i] ?? '', i, 10))
    map.set('stays', 1)
    advance(10)
    map.purgeStale()
    const events: WatchEvent<string, number>[] = []
    // Bounded, so that a missing event fails here rather than at the timeout.
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 5000).unref())
    while (events.length < 2 * names.length + 1) {
      const r = await Promise.race([w.next(), timeout])
      if (r === 'timeout' || r.done === true) break
      events.push(r.value)
    }
    const expired = events.filter((e) => e.type === 'expire').map((e) => e.key)
    expect(expired.sort()).toEqual([...names].sort())
    for (const name of names) {
      const set = events.findIndex((e) => e.type === 'set' && e.key === name)
      const gone = events.findIndex((e) => e.type === 'expire' && e.key === name)
      expect(set).toBeGreaterThanOrEqual(0)
      expect(gone).toBeGreaterThan(set)
    }
    expect(map.get('stays')).toBe(1)
    expect(map.stats().expirations).toBe(names.length)
    await w.return()
    map.close()
  })
})

const BAD_TTLS = [
  [-5, RangeError],
  [NaN, RangeError],
  [0.5, RangeError],
  [Infinity, RangeError],
  [2 ** 53, RangeError],
  ['5', TypeError],
  [null, TypeError],
  [5n, TypeError],
] as const

type Attempt = (map: ThreadMap<string, number>, key: string, options: unknown) => unknown

// Every atomic write, with options that must be refused; each would store
// (or delete: compareAndSet's) were the options good.
const ATTEMPTS: [string, Attempt][] = [
  ['setIfAbsent', (m, k, o) => m.setIfAbsent(k, 9, o as never)],
  ['getOrSet', (m, k, o) => m.getOrSet(k, 9, o as never)],
  ['compareAndSet', (m, k, o) => m.compareAndSet(k, m.get(k), 9, o as never)],
  ['compareAndSet (delete)', (m, k, o) => m.compareAndSet(k, m.get(k), undefined, o as never)],
  ['swap', (m, k, o) => m.swap(k, 9, o as never)],
  ['add', (m, k, o) => m.add(k, 9, o as never)],
  ['update', (m, k, o) => m.update(k, () => 9, o as never)],
]

describe('bad ttls on the atomic writes change nothing', () => {
  test.each(ATTEMPTS)('%s', (_name, attempt) => {
    for (const keys of ['string', 'any'] as const) {
      const { map, advance } = timed<string, number>({ keys, values: 'number', ttl: 100 })
      const present = (keys === 'any' ? 1 : 'present') as unknown as string
      map.set(present, 1, { ttl: 50 })
      advance(10)
      const rev = map.revision
      for (const [ttl, type] of BAD_TTLS) {
        for (const key of [present, 'absent']) {
          expect(() => attempt(map, key, { ttl })).toThrow(type)
          expect(() => attempt(map, key, { ttl })).toThrow(/ttl/)
        }
      }
      for (const options of [5, 'x', null]) expect(() => attempt(map, present, options)).toThrow(TypeError)
      expect(map.revision).toBe(rev)
      expect(map.get(present)).toBe(1)
      expect(map.getRemainingTTL(present)).toBe(40)
      expect(map.has('absent')).toBe(false)
      expect(map.size).toBe(1)
      // No ttl named: the write itself.
      expect(() => attempt(map, 'other', {})).not.toThrow()
      map.close()
    }
    // On a map made without ttl: set's TypeError, and nothing stored.
    const plain = new ThreadMap<string, number>(null, { keys: 'string', values: 'number' })
    plain.set('present', 1)
    const rev = plain.revision
    expect(() => attempt(plain, 'present', { ttl: 5 })).toThrow(TypeError)
    expect(() => attempt(plain, 'absent', { ttl: 5 })).toThrow(/needs a map made with options.ttl/)
    expect(plain.revision).toBe(rev)
    expect(plain.get('present')).toBe(1)
    expect(plain.has('absent')).toBe(false)
    plain.close()
  })

  test("update's fn never runs when its ttl is refused", () => {
    const { map } = timed<string, number>({ keys: 'string', values: 'number', ttl: 100 })
    let calls = 0
    expect(() => map.update('k', () => ++calls, { ttl: -1 })).toThrow(RangeError)
    expect(calls).toBe(0)
    map.close()
  })

  test('strategies that cannot expire refuse a ttl on every atomic write', () => {
    for (const strategy of ['readmostly', 'lockfree', 'ordered'] as const) {
      const map = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
      for (const [, attempt] of ATTEMPTS) {
        expect(() => attempt(map, 'k', { ttl: 5 })).toThrow(/needs a map made with options.ttl/)
      }
      expect(map.size).toBe(0)
      expect(map.revision).toBe(0)
      map.close()
    }
  })
})
