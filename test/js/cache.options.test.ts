// The cache's options (issue 15): maxEntries and evict. Bad values are a
// TypeError or RangeError that creates nothing; strategies that cannot evict
// refuse them naming the ones that can; the evict list is the core's.
import { describe, expect, test } from 'vitest'

import { liveMaps, STRATEGIES, ThreadMap, type ThreadMapOptions } from '../../lib/index'
import { EVICTION_NAMES } from '../../lib/native'

import { FLAT_TABLE_STRATEGIES } from './helpers'

const EVICTING = FLAT_TABLE_STRATEGIES

describe('bad input creates nothing', () => {
  const cases: [ThreadMapOptions, ErrorConstructor, RegExp][] = [
    [{ maxEntries: 0 }, RangeError, /maxEntries must be an integer from 1 to 2\^31 - 1, got 0/],
    [{ maxEntries: -5 }, RangeError, /got -5/],
    [{ maxEntries: 2.5 }, RangeError, /got 2.5/],
    [{ maxEntries: NaN }, RangeError, /got NaN/],
    [{ maxEntries: 2 ** 31 }, RangeError, /got 2147483648/],
    [{ maxEntries: Infinity }, RangeError, /got Infinity/],
    [{ maxEntries: '10' as never }, TypeError, /maxEntries must be a positive integer number/],
    [{ maxEntries: 10n as never }, TypeError, /maxEntries must be a positive integer number/],
    [{ maxEntries: 10, evict: 'lru' as never }, TypeError, /options.evict must be 'wtinylfu', 'clock' or 'none', got 'lru'/],
    [{ maxEntries: 10, evict: 1 as never }, TypeError, /options.evict must be/],
    [{ maxEntries: 10, evict: 'none' }, TypeError, /maxEntries evicts, so it cannot be used with evict 'none'/],
    [{ evict: 'clock' }, TypeError, /evict 'clock' needs maxEntries or maxMemory/],
    [{ evict: 'wtinylfu', maxMemory: 63 }, RangeError, /maxMemory must be at least 64 bytes for a map that evicts/],
  ]
  for (const [options, type, message] of cases) {
    test(JSON.stringify(options, (_k, v) => (typeof v === 'bigint' ? `${v}n` : Number.isNaN(v) ? 'NaN' : v)), () => {
      const before = liveMaps()
      expect(() => new ThreadMap(null, options)).toThrow(type)
      expect(() => new ThreadMap(null, options)).toThrow(message)
      expect(liveMaps()).toBe(before)
    })
  }
})

test('strategies without stripe locks refuse eviction, naming those that can', () => {
  for (const strategy of STRATEGIES) {
    for (const options of [{ maxEntries: 5 }, { evict: 'clock', maxMemory: 1 << 20 }] as ThreadMapOptions[]) {
      const before = liveMaps()
      const make = (): ThreadMap => new ThreadMap(null, { ...options, strategy })
      if ((EVICTING as readonly string[]).includes(strategy)) {
        make().close()
      } else {
        expect(make).toThrow(TypeError)
        expect(make).toThrow(`need the 'mutex', 'striped' or 'rwlock' strategy (or 'auto'), not '${strategy}'`)
      }
      expect(liveMaps()).toBe(before)
    }
  }
})

test("evict's names are the core's list (EVICTION_NAMES mirrors all_eviction_kinds)", () => {
  let message = ''
  try {
    new ThreadMap(null, { maxEntries: 1, evict: '?' as never })
  } catch (e) {
    message = (e as Error).message
  }
  const listed = [...message.matchAll(/'([a-z]+)'/g)].map((m) => m[1])
  expect(listed).toEqual([...EVICTION_NAMES, 'none'])
})

test("stats() reports the bound, the policy and the counts; 'none' for maps that do not evict", () => {
  const plain = new ThreadMap(null, { keys: 'number', values: 'number' })
  expect(plain.stats().eviction).toEqual({ policy: 'none', maxEntries: 0, admissions: 0, rejections: 0, droppedReads: 0, bytes: 0 })
  plain.get(1)
  expect(plain.stats().misses).toBe(0) // only maps that evict count
  plain.close()
  for (const evict of [undefined, ...EVICTION_NAMES]) {
    const m = new ThreadMap<number, number>(null, { keys: 'number', values: 'number', maxEntries: 100, evict })
    for (let i = 0; i < 300; i++) m.set(i, i)
    expect(m.size).toBeLessThanOrEqual(100)
    m.get(299)
    m.get(-1)
    const st = m.stats()
    expect(st.eviction.policy).toBe(evict ?? 'wtinylfu')
    expect(st.eviction.maxEntries).toBe(100)
    expect(st.evictions).toBe(300 - m.size)
    expect(st.hits).toBe(1)
    expect(st.misses).toBe(1)
    expect(st.eviction.bytes).toBeGreaterThan(0)
    if (evict === 'clock') expect(st.eviction.admissions + st.eviction.rejections).toBe(0)
    else expect(st.eviction.admissions + st.eviction.rejections).toBeGreaterThan(0)
    m.close()
  }
})

test('peek, has, hasMany and revisionOf read without counting a use; has and get of a map that does not evict are unchanged', () => {
  const m = new ThreadMap<string, string>(null, { keys: 'string', values: 'string', maxEntries: 10 })
  m.set('a', 'x')
  expect(m.peek('a')).toBe('x')
  expect(m.peek('b')).toBeUndefined()
  expect(m.has('a')).toBe(true)
  expect(m.has('b')).toBe(false)
  expect(m.hasMany(['a', 'b', 'a'])).toEqual([true, false, true])
  expect(m.revisionOf('a')).toBeGreaterThan(0)
  expect(m.revisionOf('b')).toBeUndefined()
  expect(m.stats().hits + m.stats().misses).toBe(0)
  expect(m.get('a')).toBe('x')
  expect(m.stats().hits).toBe(1)
  m.close()
  const plain = new ThreadMap<string, string>(null, { keys: 'string', values: 'string' })
  plain.set('a', 'y')
  expect(plain.peek('a')).toBe('y')
  plain.close()
})

test("maxMemory alone still refuses writes past it; with a policy it evicts", () => {
  const refusing = new ThreadMap<number, string>(null, { keys: 'number', values: 'string', maxMemory: 64 * 1024 })
  expect(() => {
    for (let i = 0; i < 10000; i++) refusing.set(i, 'x'.repeat(100))
  }).toThrow(RangeError)
  refusing.close()
  for (const evict of EVICTION_NAMES) {
    const m = new ThreadMap<number, string>(null, { keys: 'number', values: 'string', maxMemory: 64 * 1024, evict })
    for (let i = 0; i < 10000; i++) {
      m.set(i, 'x'.repeat(100))
      expect(m.get(i)).toBe('x'.repeat(100))
    }
    expect(m.stats().evictions).toBeGreaterThan(0)
    // A value that can never fit is still a RangeError that changes nothing.
    const size = m.size
    expect(() => m.set(-1, 'y'.repeat(70 * 1024))).toThrow(RangeError)
    expect(m.size).toBe(size)
    m.close()
  }
})
