// The Map conformance suite: ThreadMap must behave as Map does wherever the
// README does not say otherwise, for every strategy.
import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { STRATEGIES } from './helpers'

// Iteration order is not insertion order: compare contents in a canonical
// order (by type, then by a text form that tells every test value apart).
function sortKey(x: unknown): string {
  const text = JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(x)
  return `${typeof x}:${Object.is(x, -0) ? '-0' : text}`
}
function sorted<T>(xs: Iterable<T>): T[] {
  return [...xs].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0))
}

describe.each(STRATEGIES)('Map conformance (%s)', (strategy) => {
  const anyMap = <K = unknown, V = unknown>(entries?: Iterable<readonly [K, V]> | null): ThreadMap<K, V> =>
    new ThreadMap<K, V>(entries ?? null, { strategy })

  test('an empty map', () => {
    const m = anyMap()
    expect(m.size).toBe(0)
    expect(m.get('x')).toBeUndefined()
    expect(m.has('x')).toBe(false)
    expect(m.delete('x')).toBe(false)
    expect([...m]).toEqual([])
    expect(m.strategy).toBe(strategy)
  })

  test('set returns the map, get/has/delete/size/clear', () => {
    const m = anyMap<string, number>()
    expect(m.set('a', 1)).toBe(m)
    expect(m.set('b', 2).set('c', 3)).toBe(m)
    expect(m.size).toBe(3)
    expect(m.get('b')).toBe(2)
    expect(m.has('c')).toBe(true)
    m.set('b', 20)
    expect(m.get('b')).toBe(20)
    expect(m.size).toBe(3)
    expect(m.delete('b')).toBe(true)
    expect(m.delete('b')).toBe(false)
    expect(m.has('b')).toBe(false)
    expect(m.size).toBe(2)
    m.clear()
    expect(m.size).toBe(0)
    expect(m.get('a')).toBeUndefined()
    m.set('a', 5)
    expect(m.get('a')).toBe(5)
  })

  test('SameValueZero keys: NaN is NaN, -0 is 0', () => {
    const m = anyMap<unknown, string>()
    m.set(NaN, 'nan')
    expect(m.get(NaN)).toBe('nan')
    expect(m.get(0 / 0)).toBe('nan')
    expect(m.get(Number('x'))).toBe('nan')
    m.set(-0, 'zero')
    expect(m.get(0)).toBe('zero')
    expect(m.get(-0)).toBe('zero')
    m.set(0, 'zero again')
    expect(m.size).toBe(2)
    // Map normalises a -0 key to +0.
    const keys = [...m.keys()]
    const zero = keys.find((k) => k === 0)
    expect(Object.is(zero, 0)).toBe(true)

    const n = new ThreadMap<number, number>(null, { keys: 'number', values: 'number', strategy })
    n.set(-0, -0)
    n.set(NaN, NaN)
    expect(n.size).toBe(2)
    expect(Object.is(n.get(0), -0)).toBe(true) // values keep -0
    expect(n.get(NaN)).toBeNaN()
    expect(n.has(-0)).toBe(true)
  })

  test("'any' keys of different types are different keys", () => {
    const m = anyMap<unknown, string>()
    const keys: unknown[] = [1, '1', 1n, true, 'true', null, undefined, 'null', 0, '', false, 0n, 'undefined']
    keys.forEach((k, i) => m.set(k, `v${i}`))
    expect(m.size).toBe(keys.length)
    keys.forEach((k, i) => expect(m.get(k)).toBe(`v${i}`))
    expect(sorted(m.keys())).toEqual(sorted(keys))
  })

  test('constructor: like new Map(iterable)', () => {
    const src = new Map<string, number>([
      ['a', 1],
      ['b', 2],
    ])
    const m = anyMap(src)
    expect(m.size).toBe(2)
    expect(m.get('a')).toBe(1)
    const fromArray = anyMap([
      ['x', 1],
      ['x', 2],
    ])
    expect(fromArray.get('x')).toBe(2) // later entries win
    expect(fromArray.size).toBe(1)
    const fromGen = anyMap(
      (function* () {
        yield ['g', 1] as const
      })(),
    )
    expect(fromGen.get('g')).toBe(1)
    expect(new ThreadMap().size).toBe(0)
    expect(new ThreadMap(null).size).toBe(0)
    expect(new ThreadMap(undefined).size).toBe(0)
    expect(() => new ThreadMap([1 as unknown as [unknown, unknown]])).toThrow(TypeError)
    // A closed-over iterator is closed when an entry is bad, as for Map.
    let closed = false
    const iterable: Iterable<readonly [unknown, unknown]> = {
      [Symbol.iterator]() {
        return {
          next: () => ({ done: false as const, value: 'not an entry' as unknown as [unknown, unknown] }),
          return: () => {
            closed = true
            return { done: true as const, value: undefined }
          },
        }
      },
    }
    expect(() => new ThreadMap(iterable)).toThrow(TypeError)
    expect(closed).toBe(true)
  })

  test('forEach: (value, key, map), thisArg, every entry once', () => {
    const m = anyMap<string, number>([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ])
    const seen: [string, number][] = []
    const self = { tag: 'this' }
    m.forEach(function (this: unknown, value, key, map) {
      expect(this).toBe(self)
      expect(map).toBe(m)
      seen.push([key, value])
    }, self)
    expect(sorted(seen)).toEqual(sorted(m.entries()))
    expect(seen.length).toBe(3)
    expect(() => m.forEach(42 as unknown as () => void)).toThrow(TypeError)
  })

  test('iterator protocol: keys, values, entries, Symbol.iterator', () => {
    const m = anyMap<string, number>([
      ['a', 1],
      ['b', 2],
    ])
    for (const it of [m.keys(), m.values(), m.entries(), m[Symbol.iterator]()]) {
      expect(it[Symbol.iterator]()).toBe(it)
      expect(typeof it.next).toBe('function')
      const got = [...it]
      expect(got.length).toBe(2)
      // Exhausted iterators stay done.
      expect(it.next()).toEqual({ done: true, value: undefined })
      expect(it.next()).toEqual({ done: true, value: undefined })
    }
    expect(sorted(m.keys())).toEqual(['a', 'b'])
    expect(sorted(m.values())).toEqual([1, 2])
    expect(sorted(m.entries())).toEqual([
      ['a', 1],
      ['b', 2],
    ])
    expect(sorted(m)).toEqual(sorted(m.entries()))
    // Each entry is a fresh array.
    const [e1] = [...m.entries()]
    const [e2] = [...m.entries()]
    expect(e1).not.toBe(e2)
    // Keys and values iterate in the same order as entries.
    const entries = [...m.entries()]
    expect([...m.keys()]).toEqual(entries.map(([k]) => k))
    expect([...m.values()]).toEqual(entries.map(([, v]) => v))
    // Destructuring and Array.from/new Map work as with Map.
    expect(new Map(m).get('a')).toBe(1)
    expect(Array.from(m.keys()).length).toBe(2)
  })

  test('an early break ends the iteration and leaves the map usable', () => {
    const m = anyMap<number, number>()
    for (let i = 0; i < 3000; i++) m.set(i, i)
    let n = 0
    for (const [k, v] of m) {
      expect(v).toBe(k)
      if (++n === 10) break
    }
    expect(n).toBe(10)
    const it = m.keys()
    it.next()
    expect(it.return?.(undefined)).toEqual({ done: true, value: undefined })
    expect(it.next().done).toBe(true)
    expect(m.size).toBe(3000)
  })

  test('iteration reads in chunks and sees every entry exactly once', () => {
    const m = anyMap<number, string>()
    const n = 10_000 // several 1024-entry chunks and several scan units
    for (let i = 0; i < n; i++) m.set(i, `v${i}`)
    const seen = new Set<number>()
    for (const [k, v] of m) {
      expect(seen.has(k)).toBe(false)
      expect(v).toBe(`v${k}`)
      seen.add(k)
    }
    expect(seen.size).toBe(n)
    let count = 0
    m.forEach(() => count++)
    expect(count).toBe(n)
  })

  test('writes during an iteration: untouched entries are seen exactly once, nothing breaks', () => {
    const m = anyMap<number, number>()
    for (let i = 0; i < 5000; i++) m.set(i, i)
    const seen = new Map<number, number>()
    const deleted = new Set<number>()
    let step = 0
    for (const [k] of m) {
      seen.set(k, (seen.get(k) ?? 0) + 1)
      // Delete some keys (maybe seen already, maybe not), add new ones,
      // rewrite the current one.
      if (step % 3 === 0) {
        const victim = (k * 7919) % 5000
        m.delete(victim)
        deleted.add(victim)
      }
      if (step % 5 === 0) m.set(10_000 + step, step)
      if (step % 7 === 0) m.set(k, -1)
      step++
    }
    for (const count of seen.values()) expect(count).toBe(1)
    // Keys that nobody deleted were present throughout, so they were seen.
    for (let i = 0; i < 5000; i++) if (!deleted.has(i)) expect(seen.has(i)).toBe(true)
    expect(m.size).toBe([...m.keys()].length)
  })

  test('toStringTag and the Map interface', () => {
    const m = anyMap()
    expect(m[Symbol.toStringTag]).toBe('ThreadMap')
    expect(Object.prototype.toString.call(m)).toBe('[object ThreadMap]')
    expect(String(m)).toBe('[object ThreadMap]')
    for (const name of ['get', 'set', 'has', 'delete', 'clear', 'forEach', 'keys', 'values', 'entries'] as const) {
      expect(typeof m[name]).toBe('function')
    }
    // Usable wherever a Map is expected.
    const asMap: Map<unknown, unknown> = m
    asMap.set('k', 'v')
    expect(asMap.get('k')).toBe('v')
  })

  test('setting undefined and null values (any)', () => {
    const m = anyMap<string, unknown>()
    m.set('u', undefined)
    m.set('n', null)
    expect(m.has('u')).toBe(true)
    expect(m.get('u')).toBeUndefined()
    expect(m.get('n')).toBeNull()
    expect(m.size).toBe(2)
    expect(sorted(m.entries())).toEqual(sorted([['n', null], ['u', undefined]]))
  })
})

describe.each(STRATEGIES)('value types round-trip (%s)', (strategy) => {
  test('string values, including lone surrogates', () => {
    const m = new ThreadMap<string, string>(null, { keys: 'string', values: 'string', strategy })
    const values = ['', 'a', '\0', 'a\0b', 'é', '€', '😀', '\uD800', '\uDC00', 'x\uD800y', '\uDC00\uD800', '\uFFFD', 'x'.repeat(70_000)]
    values.forEach((v, i) => m.set(`k${i}`, v))
    values.forEach((v, i) => expect(m.get(`k${i}`)).toBe(v))
  })

  test('string keys: lone surrogates and U+FFFD never collide', () => {
    const m = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    const keys = ['\uD800', '\uDBFF', '\uDC00', '\uFFFD', '\uD800\uDC00', '\uDC00\uD800', 'a\uD800', 'a\uFFFD', '\uD83D', '😀', '']
    keys.forEach((k, i) => m.set(k, i))
    expect(m.size).toBe(keys.length)
    keys.forEach((k, i) => expect(m.get(k)).toBe(i))
    expect(sorted(m.keys())).toEqual(sorted(keys))
  })

  test('number values keep -0, NaN, infinities', () => {
    const m = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    const values = [0, -0, NaN, Infinity, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE, 1.5, -(2 ** 53)]
    values.forEach((v, i) => m.set(String(i), v))
    values.forEach((v, i) => expect(Object.is(m.get(String(i)), v)).toBe(true))
  })

  test('bigint keys and values across the int64 boundary', () => {
    const m = new ThreadMap<bigint, bigint>(null, { keys: 'bigint', values: 'bigint', strategy })
    const xs = [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 63n, -(2n ** 63n) - 1n, 2n ** 64n, -(2n ** 64n), 2n ** 64n - 1n, 2n ** 200n + 7n, -(3n ** 150n)]
    xs.forEach((x) => m.set(x, -x))
    expect(m.size).toBe(xs.length)
    xs.forEach((x) => expect(m.get(x)).toBe(-x))
    expect(sorted(m.keys())).toEqual(sorted(xs))
  })

  test('boolean values', () => {
    const m = new ThreadMap<number, boolean>(null, { keys: 'number', values: 'boolean', strategy })
    m.set(1, true).set(2, false)
    expect(m.get(1)).toBe(true)
    expect(m.get(2)).toBe(false)
  })

  test('bytes keys compare by content; bytes values are copies', () => {
    const m = new ThreadMap<Uint8Array, Uint8Array>(null, { keys: 'bytes', values: 'bytes', strategy })
    const k = new Uint8Array([1, 2, 3])
    const v = new Uint8Array([9, 8])
    m.set(k, v)
    expect(m.get(new Uint8Array([1, 2, 3]))).toEqual(new Uint8Array([9, 8]))
    expect(m.get(Buffer.from([1, 2, 3]))).toEqual(new Uint8Array([9, 8]))
    v[0] = 0 // the stored value is a copy
    expect(m.get(k)?.[0]).toBe(9)
    m.set(new Uint8Array(0), new Uint8Array(0))
    expect(m.get(new Uint8Array(0))).toEqual(new Uint8Array(0))
    // A view into a larger buffer: only the view's bytes count.
    const big = new Uint8Array([7, 1, 2, 3, 7])
    expect(m.get(big.subarray(1, 4))).toEqual(new Uint8Array([9, 8]))
    const [key] = [...m.keys()].filter((x) => x.length === 3)
    expect(key).toBeInstanceOf(Uint8Array)
    expect([...(key as Uint8Array)]).toEqual([1, 2, 3])
  })

  test('json values', () => {
    const m = ThreadMap.create({ keys: 'string', values: 'json', strategy })
    const doc = { a: [1, 'two', { three: null }], b: true, c: 1.5 }
    m.set('doc', doc)
    expect(m.get('doc')).toEqual(doc)
    expect(m.get('doc')).not.toBe(doc)
    m.set('n', null)
    expect(m.get('n')).toBeNull()
    expect(m.has('n')).toBe(true)
  })

  test('structured values (v8.serialize)', () => {
    const m = ThreadMap.create({ keys: 'string', values: 'structured', strategy })
    const value = {
      date: new Date(12345),
      map: new Map<unknown, unknown>([[1, { x: 1 }]]),
      set: new Set(['a']),
      arr: new Float64Array([1.5, -0]),
      big: 2n ** 70n,
      re: /x/gi,
      u: undefined,
    }
    m.set('v', value)
    expect(m.get('v')).toEqual(value)
    m.set('undef', undefined)
    expect(m.has('undef')).toBe(true)
    expect(m.get('undef')).toBeUndefined()
  })

  test('any values: primitives as themselves, objects structured', () => {
    const m = new ThreadMap<string, unknown>(null, { strategy, keys: 'string' })
    const values: unknown[] = [1, -0, 'str', 5n, 2n ** 100n, true, false, null, undefined, { a: 1 }, [1, [2]], new Date(0), new Uint8Array([1, 2])]
    values.forEach((v, i) => m.set(String(i), v))
    values.forEach((v, i) => {
      const got = m.get(String(i))
      if (typeof v === 'object' && v !== null) expect(got).toEqual(v)
      else expect(Object.is(got, v)).toBe(true)
    })
  })
})
