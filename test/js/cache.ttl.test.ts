// Expiry (ttl, issue 15 part 2) through the JavaScript API: every read path
// hides an expired entry at once (get, has, peek, getMany, hasMany,
// iteration, revisionOf, the read cache, the atomic operations), the map's
// ttl and set's own, getRemainingTTL with lru-cache's answers, noUpdateTTL,
// purgeStale, stats().expirations, expire events, bad input that changes
// nothing, workers that see the same expiry under the shared test clock, and
// random histories against a sequential model with deadlines (fast-check).
// The clock is the map's test clock (addon.testAdvanceClock): no test sleeps.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'

import { liveMaps, STRATEGIES, ThreadMap, type ThreadMapOptions, type WatchEvent } from '../../lib/index'
import { addon } from '../../lib/native'
import { message, startWorker, exited, timed, FLAT_TABLE_STRATEGIES } from './helpers'

const EXPIRING = FLAT_TABLE_STRATEGIES

describe.each(EXPIRING)('ttl on %s', (strategy) => {
  test('every read path hides an expired entry at once', () => {
    const { map, advance } = timed<string, string>({ keys: 'string', values: 'string', strategy, ttl: 100 })
    map.set('a', 'A')
    map.set('b', 'B', { ttl: 0 }) // never
    map.set('c', 'C', { ttl: 300 })
    advance(99)
    expect(map.get('a')).toBe('A')
    advance(1)
    expect(map.get('a')).toBeUndefined()
    expect(map.has('a')).toBe(false)
    expect(map.peek('a')).toBeUndefined()
    expect(map.revisionOf('a')).toBeUndefined()
    expect(map.getMany(['a', 'b', 'c'])).toEqual([undefined, 'B', 'C'])
    expect(map.hasMany(['a', 'b', 'c'])).toEqual([false, true, true])
    expect([...map.keys()].sort()).toEqual(['b', 'c'])
    expect([...map.entries()].sort()).toEqual([['b', 'B'], ['c', 'C']])
    const seen: string[] = []
    map.forEach((_v, k) => seen.push(k))
    expect(seen.sort()).toEqual(['b', 'c'])
    // size counts an expired entry until it is reclaimed, as lru-cache's does.
    expect(map.size).toBe(3)
    expect(map.purgeStale()).toBe(true)
    expect(map.purgeStale()).toBe(false)
    expect(map.size).toBe(2)
    expect(map.stats().expirations).toBe(1)
    advance(200)
    expect(map.get('c')).toBeUndefined()
    expect(map.get('b')).toBe('B')
    map.close()
  })

  test('atomic operations treat an expired entry as absent', () => {
    const { map, advance } = timed<string, number>({ keys: 'string', values: 'number', strategy, ttl: 10 })
    for (const k of ['ifAbsent', 'getOrSet', 'cas', 'swap', 'take', 'del', 'add', 'update']) map.set(k, 1)
    advance(10)
    expect(map.setIfAbsent('ifAbsent', 2)).toBe(true)
    expect(map.getOrSet('getOrSet', 3)).toBe(3)
    expect(map.compareAndSet('cas', 1, 5)).toBe(false)
    expect(map.compareAndSet('cas', undefined, 5)).toBe(true)
    expect(map.swap('swap', 4)).toBeUndefined()
    expect(map.take('take')).toBeUndefined()
    expect(map.delete('del')).toBe(false)
    expect(map.add('add', 7)).toBe(7)
    expect(map.update('update', (cur) => (cur ?? 100) + 1)).toBe(101)
    // Each of those that stored gets the map's ttl afresh.
    expect(map.getRemainingTTL('ifAbsent')).toBe(10)
    expect(map.stats().expirations).toBeGreaterThanOrEqual(7)
    map.close()
  })

  test('getRemainingTTL: lru-cache answers', () => {
    const { map, advance } = timed<string, string>({ keys: 'string', values: 'string', strategy, ttl: 0 })
    map.set('none', 'x')
    map.set('some', 'x', { ttl: 50 })
    expect(map.getRemainingTTL('none')).toBe(Infinity)
    expect(map.getRemainingTTL('some')).toBe(50)
    expect(map.getRemainingTTL('missing')).toBe(0)
    advance(20)
    expect(map.getRemainingTTL('some')).toBe(30)
    map.set('some', 'y', { ttl: 50 }) // a set resets the deadline
    expect(map.getRemainingTTL('some')).toBe(50)
    advance(50)
    expect(map.getRemainingTTL('some')).toBe(0)
    map.close()
    // A map without ttl: every present entry has no deadline.
    const plain = new ThreadMap<string, string>(null, { keys: 'string', values: 'string', strategy })
    plain.set('k', 'v')
    expect(plain.getRemainingTTL('k')).toBe(Infinity)
    expect(plain.getRemainingTTL('nope')).toBe(0)
    expect(plain.purgeStale()).toBe(false)
    plain.close()
  })

  test("fetch stores its value with the fetch's ttl, or the one its loader sets", async () => {
    const { map, advance } = timed<string, string>({ keys: 'string', values: 'string', strategy, ttl: 100 })
    const seen: (number | undefined)[] = []
    const loader = (k: string, _stale: string | undefined, { options }: { options: { ttl?: number } }): string => {
      seen.push(options.ttl)
      if (k === 'own') options.ttl = 30
      if (k === 'never') options.ttl = 0
      return `v:${k}`
    }
    expect(await map.fetch('default', loader)).toBe('v:default')
    expect(await map.fetch('fetch', loader, { ttl: 20 })).toBe('v:fetch')
    expect(await map.fetch('own', loader, { ttl: 20 })).toBe('v:own')
    expect(await map.fetch('never', loader)).toBe('v:never')
    expect(seen).toEqual([undefined, 20, 20, undefined])
    expect(map.getRemainingTTL('default')).toBe(100)
    expect(map.getRemainingTTL('fetch')).toBe(20)
    expect(map.getRemainingTTL('own')).toBe(30)
    expect(map.getRemainingTTL('never')).toBe(Infinity)
    advance(20)
    expect(map.get('fetch')).toBeUndefined()
    expect(map.get('own')).toBe('v:own')
    advance(10)
    expect(map.get('own')).toBeUndefined()
    expect(map.get('default')).toBe('v:default')
    advance(70)
    expect(map.get('default')).toBeUndefined()
    expect(map.get('never')).toBe('v:never')
    map.close()
  })

  test("setMany's ttl gives every entry of the batch that ttl, in both forms", () => {
    const { map, advance } = timed<string, string>({ keys: 'string', values: 'string', strategy, ttl: 100 })
    map.setMany([['a', 'A'], ['b', 'B']], { ttl: 10 })
    map.setMany(['c', 'd'], ['C', 'D'], { ttl: 0 })
    map.setMany([['e', 'E']])
    map.setMany(['f'], ['F'], {})
    expect(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => map.getRemainingTTL(k))).toEqual([10, 10, Infinity, Infinity, 100, 100])
    advance(10)
    expect(map.getMany(['a', 'b', 'c', 'e'])).toEqual([undefined, undefined, 'C', 'E'])
    // Longer than one native call (BATCH_MAX): every piece takes the ttl.
    const keys = Array.from({ length: 10_000 }, (_, i) => `k${i}`)
    map.setMany(keys, keys, { ttl: 5 })
    expect(map.getRemainingTTL('k0')).toBe(5)
    expect(map.getRemainingTTL('k9999')).toBe(5)
    advance(5)
    expect(map.hasMany(['k0', 'k5000', 'k9999'])).toEqual([false, false, false])
    map.close()
  })

  test('noUpdateTTL keeps the deadline across overwrites', () => {
    const { map, advance } = timed<string, number>({ keys: 'string', values: 'number', strategy, ttl: 100, noUpdateTTL: true })
    map.add('hits', 1)
    advance(60)
    map.add('hits', 1)
    map.set('hits', 10)
    expect(map.getRemainingTTL('hits')).toBe(40)
    advance(40)
    expect(map.get('hits')).toBeUndefined()
    expect(map.add('hits', 1)).toBe(1) // a new window
    expect(map.getRemainingTTL('hits')).toBe(100)
    map.close()
  })

  test('the read cache never answers an expired entry', () => {
    const { map, advance } = timed<string, { n: number }>({ keys: 'string', values: 'any', strategy, ttl: 5, readCache: 16 })
    map.set('o', { n: 1 })
    expect(map.get('o')).toEqual({ n: 1 })
    expect(map.get('o')).toEqual({ n: 1 }) // from the cache
    advance(5)
    expect(map.get('o')).toBeUndefined()
    map.close()
  })

  test('a full cache reclaims expired entries before it evicts live ones', () => {
    const { map, advance } = timed<number, number>({ keys: 'number', values: 'number', strategy, maxEntries: 64, ttl: 0 })
    for (let i = 0; i < 64; i++) map.set(i, i, { ttl: i < 16 ? 5 : 0 })
    advance(5)
    for (let i = 100; i < 116; i++) map.set(i, i)
    const st = map.stats()
    expect(st.evictions).toBe(0)
    expect(st.expirations).toBe(16)
    for (let i = 16; i < 64; i++) expect(map.get(i)).toBe(i)
    map.close()
  })

  test('expire events: each reclaimed entry once, after its set, and a snapshot drops it', async () => {
    const { map, advance } = timed<string, string>({ keys: 'string', values: 'string', strategy, ttl: 10 })
    const w = map.watch({ ref: true })
    map.set('a', '1')
    map.set('b', '2', { ttl: 0 })
    const snap = map.snapshot()
    expect(snap.size).toBe(2)
    advance(10)
    // Past its deadline but not reclaimed: hidden from the map, still in the
    // snapshot (which has no clock), refreshed or not (README, Cache: Watch).
    expect(map.get('a')).toBeUndefined()
    expect(snap.get('a')).toBe('1')
    snap.refresh()
    expect(snap.get('a')).toBe('1')
    map.purgeStale()
    const events: WatchEvent<string, string>[] = []
    while (events.length < 3) {
      const r = await w.next()
      if (r.done) break
      events.push(r.value)
    }
    expect(events.map((e) => [e.type, e.key])).toEqual([
      ['set', 'a'],
      ['set', 'b'],
      ['expire', 'a'],
    ])
    expect(events[2]?.revision).toBeGreaterThan(events[0]?.revision ?? Infinity)
    expect(events[2]?.value).toBeUndefined()
    snap.refresh()
    expect([...snap.keys()]).toEqual(['b'])
    expect(map.stats().expirations).toBe(1)
    snap.close()
    await w.return()
    map.close()
  })
})

type Op =
  | { op: 'set'; key: number; value: number; ttl?: number }
  | { op: 'add'; key: number; ttl?: number }
  | { op: 'delete'; key: number }
  | { op: 'setIfAbsent'; key: number; value: number; ttl?: number }
  | { op: 'compareAndSet'; key: number; expected?: number; value: number; ttl?: number }
  | { op: 'advance'; ms: number }
  | { op: 'purge' }

const keyArb = fc.integer({ min: 0, max: 11 })
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), key: keyArb, value: fc.integer({ min: 0, max: 99 }) }),
  fc.record({
    op: fc.constant('set' as const),
    key: keyArb,
    value: fc.integer({ min: 0, max: 99 }),
    ttl: fc.integer({ min: 0, max: 30 }),
  }),
  // The atomic writes, each with or without a ttl of its own.
  fc.record({ op: fc.constant('add' as const), key: keyArb, ttl: fc.integer({ min: 0, max: 30 }) }, { requiredKeys: ['op', 'key'] }),
  fc.record({ op: fc.constant('delete' as const), key: keyArb }),
  fc.record(
    { op: fc.constant('setIfAbsent' as const), key: keyArb, value: fc.integer({ min: 0, max: 99 }), ttl: fc.integer({ min: 0, max: 30 }) },
    { requiredKeys: ['op', 'key', 'value'] },
  ),
  fc.record(
    {
      op: fc.constant('compareAndSet' as const),
      key: keyArb,
      expected: fc.integer({ min: 0, max: 3 }),
      value: fc.integer({ min: 0, max: 3 }),
      ttl: fc.integer({ min: 0, max: 30 }),
    },
    { requiredKeys: ['op', 'key', 'value'] },
  ),
  fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 25 }) }),
  fc.record({ op: fc.constant('purge' as const) }),
)

describe.each(EXPIRING)('random histories on %s equal a model with deadlines', (strategy) => {
  for (const noUpdateTTL of [false, true]) {
    test(`noUpdateTTL ${noUpdateTTL}`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 20 }), fc.array(opArb, { maxLength: 80 }), (ttl, ops) => {
          const { map, advance } = timed<number, number>({ keys: 'number', values: 'number', strategy, ttl, noUpdateTTL })
          // key -> [value, deadline (Infinity: none)]
          const model = new Map<number, [number, number]>()
          let now = 0
          const live = (k: number): [number, number] | undefined => {
            const e = model.get(k)
            return e !== undefined && e[1] > now ? e : undefined
          }
          const store = (k: number, v: number, ms: number): void => {
            const old = live(k)
            const deadline = noUpdateTTL && old !== undefined ? old[1] : ms === 0 ? Infinity : now + ms
            model.set(k, [v, deadline])
          }
          try {
            for (const o of ops) {
              switch (o.op) {
                case 'set':
                  if (o.ttl === undefined) map.set(o.key, o.value)
                  else map.set(o.key, o.value, { ttl: o.ttl })
                  store(o.key, o.value, o.ttl ?? ttl)
                  break
                case 'add': {
                  const old = live(o.key)
                  const next = (old?.[0] ?? 0) + 1
                  if (o.ttl === undefined) {
                    expect(map.add(o.key, 1)).toBe(next)
                    store(o.key, next, ttl)
                  } else {
                    // Its own ttl is the counter's window: a live counter keeps its deadline.
                    expect(map.add(o.key, 1, { ttl: o.ttl })).toBe(next)
                    if (old !== undefined) model.set(o.key, [next, old[1]])
                    else store(o.key, next, o.ttl)
                  }
                  break
                }
                case 'delete':
                  expect(map.delete(o.key)).toBe(live(o.key) !== undefined)
                  model.delete(o.key)
                  break
                case 'setIfAbsent': {
                  const absent = live(o.key) === undefined
                  const options = o.ttl === undefined ? undefined : { ttl: o.ttl }
                  expect(map.setIfAbsent(o.key, o.value, options)).toBe(absent)
                  if (absent) store(o.key, o.value, o.ttl ?? ttl)
                  break
                }
                case 'compareAndSet': {
                  const matches = live(o.key)?.[0] === o.expected
                  const options = o.ttl === undefined ? undefined : { ttl: o.ttl }
                  expect(map.compareAndSet(o.key, o.expected, o.value, options)).toBe(matches)
                  if (matches) store(o.key, o.value, o.ttl ?? ttl)
                  break
                }
                case 'advance':
                  advance(o.ms)
                  now += o.ms
                  break
                case 'purge':
                  map.purgeStale()
                  expect(map.size).toBe([...model.keys()].filter((k) => live(k) !== undefined).length)
                  break
              }
              for (let k = 0; k <= 11; k++) {
                const e = live(k)
                expect(map.get(k)).toBe(e?.[0])
                expect(map.getRemainingTTL(k)).toBe(e === undefined ? 0 : e[1] === Infinity ? Infinity : e[1] - now)
              }
            }
            const expected = [...model.entries()].filter(([k]) => live(k) !== undefined).map(([k, [v]]) => [k, v])
            expect([...map.entries()].sort((a, b) => a[0] - b[0])).toEqual(expected.sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0)))
          } finally {
            map.close()
          }
        }),
        { numRuns: 60 },
      )
    })
  }
})

// ttls every write refuses, with the error each gets.
const BAD_TTLS = [
  [-5, RangeError],
  [NaN, RangeError],
  [0.5, RangeError],
  [Infinity, RangeError],
  ['5', TypeError],
  [null, TypeError],
] as const

describe('bad input changes nothing', () => {
  const cases: [ThreadMapOptions, ErrorConstructor, RegExp][] = [
    [{ ttl: -1 }, RangeError, /options.ttl must be an integer from 0 to 2\^53 - 1 milliseconds, got -1/],
    [{ ttl: NaN }, RangeError, /got NaN/],
    [{ ttl: 1.5 }, RangeError, /got 1.5/],
    [{ ttl: Infinity }, RangeError, /got Infinity/],
    [{ ttl: 2 ** 53 }, RangeError, /got 9007199254740992/],
    [{ ttl: '10' as never }, TypeError, /options.ttl must be a number of milliseconds/],
    [{ ttl: 10n as never }, TypeError, /options.ttl must be a number/],
    [{ ttl: 10, noUpdateTTL: 1 as never }, TypeError, /noUpdateTTL must be a boolean/],
    [{ noUpdateTTL: true }, TypeError, /noUpdateTTL needs options.ttl/],
  ]
  for (const [options, type, msg] of cases) {
    test(JSON.stringify(options, (_k, v) => (typeof v === 'bigint' ? `${v}n` : Number.isNaN(v) ? 'NaN' : v)), () => {
      const before = liveMaps()
      expect(() => new ThreadMap(null, options)).toThrow(type)
      expect(() => new ThreadMap(null, options)).toThrow(msg)
      expect(liveMaps()).toBe(before)
    })
  }

  test('strategies that cannot expire refuse ttl, naming those that can', () => {
    for (const strategy of STRATEGIES) {
      const before = liveMaps()
      if ((EXPIRING as readonly string[]).includes(strategy)) {
        new ThreadMap(null, { strategy, ttl: 5 }).close()
        continue
      }
      expect(() => new ThreadMap(null, { strategy, ttl: 5 })).toThrow(TypeError)
      expect(() => new ThreadMap(null, { strategy, ttl: 5 })).toThrow(
        `options.ttl needs the 'mutex', 'striped' or 'rwlock' strategy (or 'auto'), not '${strategy}'`,
      )
      expect(liveMaps()).toBe(before)
    }
  })

  test("set's ttl: a bad one, or one on a map without ttl, throws and stores nothing", () => {
    const { map } = timed<string, string>({ keys: 'string', values: 'string', ttl: 100 })
    map.set('k', 'old')
    const rev = map.revision
    for (const [ttl, type] of BAD_TTLS) {
      expect(() => map.set('k', 'new', { ttl: ttl as never })).toThrow(type)
      expect(() => map.set('fresh', 'new', { ttl: ttl as never })).toThrow(type)
    }
    expect(() => map.set('k', 'new', 5 as never)).toThrow(TypeError)
    expect(map.get('k')).toBe('old')
    expect(map.has('fresh')).toBe(false)
    expect(map.revision).toBe(rev)
    map.close()
    const plain = new ThreadMap<string, string>(null, { keys: 'string', values: 'string' })
    expect(() => plain.set('k', 'v', { ttl: 5 })).toThrow(/needs a map made with options.ttl/)
    expect(plain.has('k')).toBe(false)
    plain.set('k', 'v', {}) // no ttl named: a plain set
    expect(plain.get('k')).toBe('v')
    plain.close()
  })

  test("fetch's ttl: a bad one, or one on a map without ttl, throws before any loader runs", async () => {
    const { map } = timed<string, string>({ keys: 'string', values: 'string', ttl: 100 })
    let calls = 0
    const loader = (): string => {
      calls++
      return 'loaded'
    }
    for (const [ttl, type] of BAD_TTLS) {
      expect(() => map.fetch('k', loader, { ttl: ttl as never })).toThrow(type)
    }
    expect(calls).toBe(0)
    expect(map.has('k')).toBe(false)
    expect(await map.fetch('k', loader, { ttl: 7 })).toBe('loaded') // no claim was left behind
    expect(map.getRemainingTTL('k')).toBe(7)
    map.close()
    const plain = new ThreadMap<string, string>(null, { keys: 'string', values: 'string' })
    expect(() => plain.fetch('k', loader, { ttl: 5 })).toThrow(/fetch\(key, loader, \{ ttl \}\) needs a map made with options.ttl/)
    expect(calls).toBe(1)
    expect(plain.has('k')).toBe(false)
    plain.close()
  })

  test("setMany's ttl: a bad one, or one on a map without ttl, throws and stores nothing", () => {
    const { map } = timed<string, string>({ keys: 'string', values: 'string', ttl: 100 })
    map.set('k', 'old')
    const rev = map.revision
    const many = Array.from({ length: 5000 }, (_, i) => `m${i}`)
    for (const [ttl, type] of BAD_TTLS) {
      expect(() => map.setMany([['k', 'new']], { ttl: ttl as never })).toThrow(type)
      expect(() => map.setMany(['k'], ['new'], { ttl: ttl as never })).toThrow(type)
      expect(() => map.setMany(many, many, { ttl: ttl as never })).toThrow(type)
      expect(() => map.setMany([], { ttl: ttl as never })).toThrow(type)
    }
    expect(() => map.setMany([['k', 'new']], 5 as never)).toThrow(TypeError)
    expect(map.get('k')).toBe('old')
    expect(map.has('m0')).toBe(false)
    expect(map.revision).toBe(rev)
    map.close()
    const plain = new ThreadMap<string, string>(null, { keys: 'string', values: 'string' })
    expect(() => plain.setMany([['k', 'v']], { ttl: 5 })).toThrow(/setMany\(\.\.\., \{ ttl \}\) needs a map made with options.ttl/)
    expect(plain.has('k')).toBe(false)
    plain.setMany([['k', 'v']], {}) // no ttl named: a plain setMany
    expect(plain.get('k')).toBe('v')
    plain.close()
  })

  test("a loader's bad options.ttl fails the fetch and stores nothing", async () => {
    const { map } = timed<string, string>({ keys: 'string', values: 'string', ttl: 100 })
    for (const [ttl, type] of [
      [-1, RangeError],
      [1.5, RangeError],
      ['5', TypeError],
    ] as const) {
      const fetched = map.fetch('k', (_k, _stale, { options }) => {
        options.ttl = ttl as never
        return 'loaded'
      })
      await expect(fetched).rejects.toThrow(type)
      await expect(fetched).rejects.toThrow(/fetch's loader: options.ttl/)
      expect(map.has('k')).toBe(false)
    }
    const plain = new ThreadMap<string, string>(null, { keys: 'string', values: 'string' })
    await expect(
      plain.fetch('k', (_k, _stale, { options }) => {
        options.ttl = 5
        return 'loaded'
      }),
    ).rejects.toThrow(/needs a map made with options.ttl/)
    expect(plain.has('k')).toBe(false)
    plain.close()
    map.close()
  })

  test('the test clock refuses maps without ttl', () => {
    const plain = new ThreadMap(null, {})
    expect(() => addon.testAdvanceClock(plain.handle().id, 1)).toThrow(TypeError)
    plain.close()
  })
})

test('workers see the same expiry under the shared test clock', async () => {
  const { map, advance } = timed<string, string>({ keys: 'string', values: 'string', ttl: 100 })
  map.set('short', 's', { ttl: 10 })
  map.set('long', 'l')
  map.set('never', 'n', { ttl: 0 })
  const w = startWorker('ttl.mjs', { handle: map.handle() })
  await message(w, 'started')
  const keys = ['short', 'long', 'never']
  const ask = async (): Promise<{ get: (string | null)[]; has: boolean[]; remaining: number[]; entries: string[] }> => {
    const answer = message<{ get: (string | null)[]; has: boolean[]; remaining: number[]; entries: string[] }>(w, 'answer')
    w.postMessage({ type: 'ask', keys })
    return answer
  }
  expect(await ask()).toMatchObject({
    get: ['s', 'l', 'n'],
    has: [true, true, true],
    remaining: [10, 100, Infinity],
    entries: ['long', 'never', 'short'],
  })
  advance(10)
  expect(await ask()).toMatchObject({
    get: [null, 'l', 'n'],
    has: [false, true, true],
    remaining: [0, 90, Infinity],
    entries: ['long', 'never'],
  })
  advance(90)
  expect((await ask()).entries).toEqual(['never'])
  w.postMessage({ type: 'stop' })
  expect(await exited(w)).toBe(0)
  map.close()
})
