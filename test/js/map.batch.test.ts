// Batch operations (getMany, hasMany, deleteMany, setMany) over every
// strategy: results in input order, arrays and typed arrays, the same keys as
// one-by-one calls, batches longer than one native call, and the
// all-or-nothing rule for bad input (the error names the element's index and
// the map is unchanged).
import { describe, expect, test } from 'vitest'

import { MAX_KEY_BYTES, ThreadMap, type KeyTypeName, type ValueTypeName } from '../../lib/index'
import { addon } from '../../lib/native'
import { STRATEGIES } from './helpers'

const BATCH = addon.constants.BATCH_MAX

type AnyMap = ThreadMap<unknown, unknown>

function snapshot(m: AnyMap): string {
  const rows = [...m.entries()].map(([k, v]) => `${typeof k}:${String(k)}=${typeof v}:${JSON.stringify(v, (_, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x))}`)
  return `${m.size}|${rows.sort().join(',')}`
}

function thrown(fn: () => unknown): Error {
  try {
    fn()
  } catch (e) {
    return e as Error
  }
  throw new Error('expected a throw')
}

describe.each(STRATEGIES)('batches (%s)', (strategy) => {
  const make = <K, V>(keys: KeyTypeName, values: ValueTypeName, extra: object = {}): ThreadMap<K, V> =>
    new ThreadMap<K, V>(null, { keys, values, strategy, ...extra })

  test('getMany, hasMany and deleteMany answer in input order, like the one-by-one calls', () => {
    const m = make<string, number>('string', 'number')
    m.setMany([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ])
    const keys = ['c', 'x', 'a', 'a', 'b', '']
    expect(m.getMany(keys)).toEqual(keys.map((k) => m.get(k)))
    expect(m.getMany(keys)).toEqual([3, undefined, 1, 1, 2, undefined])
    expect(m.hasMany(keys)).toEqual([true, false, true, true, true, false])
    // A repeated key is deleted once: the second time it is absent.
    expect(m.deleteMany(['a', 'x', 'a', 'c'])).toEqual([true, false, false, true])
    expect([...m.keys()]).toEqual(['b'])
    m.close()
  })

  test('empty batches return empty arrays', () => {
    const m = make<string, number>('string', 'number')
    expect(m.getMany([])).toEqual([])
    expect(m.hasMany([])).toEqual([])
    expect(m.deleteMany([])).toEqual([])
    expect(m.setMany([])).toBe(m)
    expect(m.setMany([], [])).toBe(m)
    expect(m.size).toBe(0)
    const n = make<number, number>('number', 'number')
    expect(n.getMany(new Float64Array(0))).toEqual([])
    expect(n.setMany(new Float64Array(0), new Float64Array(0))).toBe(n)
    m.close()
    n.close()
  })

  test('setMany takes entries (any iterable) or keys and values; a repeated key ends with its last value', () => {
    const m = make<string, string>('string', 'string')
    expect(m.setMany([['k', 'first'], ['j', 'x'], ['k', 'last']])).toBe(m)
    expect(m.get('k')).toBe('last')
    m.setMany(['p', 'q'], ['P', 'Q'])
    m.setMany(
      new Map([
        ['r', 'R'],
        ['s', 'S'],
      ]),
    )
    m.setMany(
      (function* () {
        yield ['t', 'T'] as const
      })(),
    )
    expect(Object.fromEntries(m)).toEqual({ k: 'last', j: 'x', p: 'P', q: 'Q', r: 'R', s: 'S', t: 'T' })
    m.close()
  })

  test('Float64Array keys are the same keys as numbers (NaN one key, -0 the same as 0)', () => {
    const m = make<number, number>('number', 'number')
    m.setMany(new Float64Array([1.5, -0, NaN, 2 ** 53, -Infinity]), new Float64Array([1, 2, 3, 4, 5]))
    expect(m.get(0)).toBe(2)
    expect(m.get(NaN)).toBe(3)
    expect(m.get(2 ** 53)).toBe(4)
    const probe = [-Infinity, 0, -0, NaN, 1.5, 7]
    expect(m.getMany(new Float64Array(probe))).toEqual(probe.map((k) => m.get(k)))
    expect(m.getMany(probe)).toEqual([5, 2, 2, 3, 1, undefined])
    expect(m.hasMany(new Float64Array([NaN, 8]))).toEqual([true, false])
    expect(m.deleteMany(new Float64Array([-0, 9]))).toEqual([true, false])
    expect(m.has(0)).toBe(false)
    // Values keep -0 (only keys are normalised), from typed arrays too.
    m.setMany(new Float64Array([10]), new Float64Array([-0]))
    expect(Object.is(m.get(10), -0)).toBe(true)
    m.close()
  })

  test('BigInt64Array and BigUint64Array keys are the same keys as bigints', () => {
    const m = make<bigint, bigint>('bigint', 'bigint')
    const big = 2n ** 64n - 1n // past int64: the long form
    m.setMany(new BigUint64Array([1n, big, 2n ** 63n]), new BigInt64Array([-1n, 2n, 3n]))
    m.set(-5n, 4n)
    expect(m.get(big)).toBe(2n)
    expect(m.get(2n ** 63n)).toBe(3n)
    expect(m.getMany(new BigInt64Array([-5n, 1n, 0n]))).toEqual([4n, -1n, undefined])
    expect(m.getMany([big, 2n ** 63n, -(2n ** 63n)])).toEqual([2n, 3n, undefined])
    expect(m.hasMany(new BigUint64Array([big, 5n]))).toEqual([true, false])
    expect(new Set(m.keys())).toEqual(new Set([1n, big, 2n ** 63n, -5n]))
    m.close()
  })

  test("typed arrays suit 'any' keys and values too", () => {
    const m = make<unknown, unknown>('any', 'any')
    m.setMany(new Float64Array([1, 2]), ['one', { two: 2 }])
    m.setMany(['x'], new BigInt64Array([7n]))
    expect(m.getMany(new Float64Array([1, 2, 3]))).toEqual(['one', { two: 2 }, undefined])
    expect(m.getMany([1, '1', 'x'])).toEqual(['one', undefined, 7n])
    m.setMany(new BigInt64Array([1n]), new Float64Array([0.5]))
    expect(m.get(1n)).toBe(0.5)
    m.close()
  })

  test.each([
    ['json', { a: [1, 'x'] }],
    ['structured', new Map([[1, new Date(0)]])],
    ['any', { nested: [1n] }],
    ['bytes', new Uint8Array([1, 2])],
    ['boolean', false],
    ['any', undefined],
  ] as [ValueTypeName, unknown][])("values '%s' go through their codec both ways", (values, v) => {
    const m = make<string, unknown>('string', values)
    m.setMany(['k', 'other'], [v, v])
    const got = m.getMany(['k', 'missing', 'other'])
    expect(got).toEqual([v, undefined, v])
    expect(got[0]).toEqual(m.get('k'))
    m.close()
  })

  test(`batches longer than one native call (${BATCH} keys) keep their order`, () => {
    const n = 2 * BATCH + 123
    const m = make<string, number>('string', 'number')
    const keys = Array.from({ length: n }, (_, i) => `key:${i}`)
    m.setMany(
      keys,
      keys.map((_, i) => i),
    )
    expect(m.size).toBe(n)
    const probe = keys.map((_, i) => keys[(i * 7919) % n]).concat(['absent'])
    expect(m.getMany(probe)).toEqual(probe.map((k) => m.get(k)))
    expect(m.hasMany(probe).filter(Boolean).length).toBe(n)
    const gone = m.deleteMany(keys.filter((_, i) => i % 2 === 0))
    expect(gone.every(Boolean)).toBe(true)
    expect(m.size).toBe(n - gone.length)

    const f = make<number, number>('number', 'number')
    const nums = Float64Array.from({ length: n }, (_, i) => i * 0.5)
    f.setMany(nums, nums)
    expect(f.getMany(nums)).toEqual(Array.from(nums))
    expect(f.deleteMany(nums.subarray(0, BATCH + 1)).every(Boolean)).toBe(true)
    expect(f.size).toBe(n - BATCH - 1)
    m.close()
    f.close()
  })

  describe('bad input: nothing changes, the error names the index', () => {
    const setup = (): ThreadMap<string, number> => {
      const m = make<string, number>('string', 'number')
      m.setMany([
        ['a', 1],
        ['b', 2],
      ])
      return m
    }

    test('a key of the wrong type', () => {
      const m = setup()
      const before = snapshot(m as AnyMap)
      const keys: unknown[] = ['a', 'new', 3, 'b']
      for (const call of [
        () => m.setMany(keys as string[], [9, 9, 9, 9]),
        () => m.setMany(keys.map((k) => [k, 9]) as [string, number][]),
        () => m.deleteMany(keys as string[]),
        () => m.getMany(keys as string[]),
        () => m.hasMany(keys as string[]),
      ]) {
        const e = thrown(call)
        expect(e).toBeInstanceOf(TypeError)
        expect(e.message).toMatch(/key at index 2 must be a string/)
      }
      expect(snapshot(m as AnyMap)).toBe(before)
      m.close()
    })

    test('a value of the wrong type', () => {
      const m = setup()
      const before = snapshot(m as AnyMap)
      const e = thrown(() => m.setMany(['a', 'new', 'b'], [5, 6, '7' as unknown as number]))
      expect(e).toBeInstanceOf(TypeError)
      expect(e.message).toMatch(/value at index 2 must be a number/)
      const j = make<string, unknown>('string', 'json')
      j.set('kept', 1)
      const circular: Record<string, unknown> = {}
      circular.self = circular
      expect(() => j.setMany(['x', 'y'], [1, circular])).toThrow(/value at index 1 must be JSON-serializable/)
      expect(() => j.setMany(['x', 'y'], [() => 1, 1])).toThrow(/value at index 0 must be JSON-serializable/)
      const st = make<string, unknown>('string', 'structured')
      expect(() => st.setMany([['x', 1], ['y', Symbol('s')]])).toThrow(/value at index 1 cannot be stored/)
      expect(snapshot(m as AnyMap)).toBe(before)
      expect([...j.keys()]).toEqual(['kept'])
      expect(st.size).toBe(0)
      for (const x of [m, j, st]) x.close()
    })

    test('a key past the size limit is a RangeError', () => {
      const m = setup()
      const before = snapshot(m as AnyMap)
      const long = 'x'.repeat(MAX_KEY_BYTES + 1)
      for (const call of [() => m.setMany(['new', long], [1, 2]), () => m.deleteMany(['a', long]), () => m.getMany(['a', long])]) {
        const e = thrown(call)
        expect(e).toBeInstanceOf(RangeError)
        expect(e.message).toMatch(/key at index 1 is/)
      }
      expect(snapshot(m as AnyMap)).toBe(before)
      m.close()
    })

    test(`a bad element in a later native call of a long batch (${BATCH}+ keys) changes nothing`, () => {
      const m = setup()
      const before = snapshot(m as AnyMap)
      const n = BATCH * 2 + 10
      const keys: unknown[] = Array.from({ length: n }, (_, i) => (i === 0 ? 'a' : `k${i}`))
      keys[n - 3] = null
      const e = thrown(() => m.setMany(keys as string[], keys.map(() => 0)))
      expect(e).toBeInstanceOf(TypeError)
      expect(e.message).toContain(`key at index ${n - 3}`)
      const d = thrown(() => m.deleteMany(keys as string[]))
      expect(d.message).toContain(`key at index ${n - 3}`)
      const values: unknown[] = keys.map(() => 1)
      values[BATCH + 1] = 'one'
      keys[n - 3] = 'fine'
      const v = thrown(() => m.setMany(keys as string[], values as number[]))
      expect(v.message).toContain(`value at index ${BATCH + 1}`)
      expect(snapshot(m as AnyMap)).toBe(before)
      m.close()
    })

    test('shapes: not an array, a typed array of the wrong kind, lengths that differ, entries that are not entries', () => {
      const m = setup()
      const before = snapshot(m as AnyMap)
      expect(() => m.getMany('ab' as never)).toThrow(TypeError)
      expect(() => m.hasMany(new Set(['a']) as never)).toThrow(TypeError)
      expect(() => m.deleteMany({ length: 1, 0: 'a' } as never)).toThrow(TypeError)
      expect(() => m.getMany(new Float64Array([1]) as never)).toThrow(/this map's keys are 'string'/)
      expect(() => m.setMany(['a'], new Int32Array([1]) as never)).toThrow(TypeError)
      expect(() => m.setMany(['a', 'b'], [1])).toThrow(RangeError)
      expect(() => m.setMany([['a', 1], 'b' as never])).toThrow(/entry at index 1 is not an entry object/)
      expect(() => m.setMany(5 as never)).toThrow(TypeError)
      const n = make<number, number>('number', 'number')
      expect(() => n.getMany(new BigInt64Array(1) as never)).toThrow(/BigInt64Array holds bigints; this map's keys are 'number'/)
      expect(() => n.getMany(new Uint8Array(1) as never)).toThrow(TypeError)
      expect(() => n.setMany(new Float64Array([1]), new BigInt64Array([1n]) as never)).toThrow(/values are 'number'/)
      expect(() => n.setMany(new Float64Array([1, 2]), new Float64Array([1]))).toThrow(RangeError)
      expect(n.size).toBe(0)
      expect(snapshot(m as AnyMap)).toBe(before)
      m.close()
      n.close()
    })
  })

  test('maxMemory reached part-way: a RangeError naming the index; the entries before it were set', () => {
    const m = make<string, string>('string', 'string', { maxMemory: 256 * 1024 })
    const n = 2000
    const keys = Array.from({ length: n }, (_, i) => `k${i}`)
    const e = thrown(() => m.setMany(keys, keys.map(() => 'v'.repeat(400))))
    expect(e).toBeInstanceOf(RangeError)
    const at = Number(/at index (\d+)/.exec(e.message)?.[1])
    expect(at).toBeGreaterThan(0)
    expect(at).toBeLessThan(n)
    expect(m.size).toBe(at)
    expect(m.hasMany(keys.slice(0, at)).every(Boolean)).toBe(true)
    expect(m.hasMany(keys.slice(at)).some(Boolean)).toBe(false)
    m.close()
  })

  test('a closed map: every batch is an Error', () => {
    const m = make<string, number>('string', 'number')
    m.close()
    for (const call of [() => m.getMany(['a']), () => m.hasMany([]), () => m.deleteMany(['a']), () => m.setMany([['a', 1]])]) {
      expect(call).toThrow(/closed/)
    }
  })

  test('a random mix of batches agrees with a Map', () => {
    const m = make<number, number>('number', 'number')
    const model = new Map<number, number>()
    let seed = 12345
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      return seed % n
    }
    for (let round = 0; round < 200; round++) {
      const len = rand(40)
      const keys = Array.from({ length: len }, () => rand(64))
      const typed = rand(2) === 0 ? Float64Array.from(keys) : keys
      switch (rand(4)) {
        case 0: {
          const values = keys.map(() => rand(1000))
          m.setMany(typed as number[], values)
          keys.forEach((k, i) => model.set(k, values[i]))
          break
        }
        case 1: {
          const expected = keys.map((k) => model.delete(k))
          expect(m.deleteMany(typed as number[])).toEqual(expected)
          break
        }
        case 2:
          expect(m.getMany(typed as number[])).toEqual(keys.map((k) => model.get(k)))
          break
        default:
          expect(m.hasMany(typed as number[])).toEqual(keys.map((k) => model.has(k)))
      }
    }
    expect(new Map(m)).toEqual(model)
    m.close()
  })
})
