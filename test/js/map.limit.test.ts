// At maxMemory: a write that does not grow the map is accepted, and a growing
// one is a RangeError that changes nothing. Each map is filled until a new
// entry is refused, then ballast values take what is left of the budget in
// halving steps, so the writes below find no room to spare.
import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { STRATEGIES } from './helpers'

type AnyMap = ThreadMap<string, unknown>

const MAX_MEMORY = 256 * 1024
const BALLAST = 24

/** A 100-character string: stored out of line by every strategy. */
const long = (i: number, fill = 'L'): string => `${i}:`.padEnd(100, fill)

/** A map at its maxMemory, and how many rows of keys it holds. */
function full(strategy: (typeof STRATEGIES)[number]): { m: AnyMap; rows: number } {
  const m = new ThreadMap<string, unknown>(null, { keys: 'string', values: 'any', strategy, maxMemory: MAX_MEMORY })
  for (let b = 0; b < BALLAST; b++) m.set(`b${b}`, '')
  // Rows of a counter, a number, a short string, a long string and a
  // boolean, until one is refused (that row may be partial).
  let rows = 0
  for (;; rows++) {
    try {
      m.add(`c${rows}`, 1)
      m.set(`n${rows}`, rows + 0.5)
      m.set(`s${rows}`, `s${rows}`)
      m.set(`l${rows}`, long(rows))
      m.set(`e${rows}`, true)
    } catch (err) {
      expect(err).toBeInstanceOf(RangeError)
      break
    }
  }
  for (let b = 0; b < BALLAST; b++) {
    try {
      m.set(`b${b}`, 'B'.repeat(2 ** (24 - Math.min(b, 20))))
    } catch (err) {
      expect(err).toBeInstanceOf(RangeError)
    }
  }
  expect(rows).toBeGreaterThan(50)
  return { m, rows }
}

function contents(m: AnyMap): Map<string, unknown> {
  return new Map(m.entries())
}

/** `write` is a maxMemory RangeError and the map is unchanged. */
function refused(m: AnyMap, write: () => unknown): void {
  const before = contents(m)
  let error: unknown = null
  try {
    write()
  } catch (err) {
    error = err
  }
  expect(error).toBeInstanceOf(RangeError)
  expect(String(error)).toMatch(/maxMemory/)
  expect(contents(m)).toEqual(before)
}

/**
 * Strategies that still refuse to replace an out-of-line value by one no
 * longer at the limit: readmostly reserves the whole new value node before
 * releasing the old one (readmostly.cpp make_node); the flat table (mutex,
 * rwlock, striped) charges only the difference. Remove readmostly from this
 * list when it does too.
 */
const REFUSES_SAME_SIZE_OUT_OF_LINE = new Set<string>()

describe.each(STRATEGIES)('at maxMemory (%s)', (strategy) => {
  test('numbers, booleans and counters: set, swap, add, update, compareAndSet, setMany, take and delete are accepted', () => {
    const { m, rows } = full(strategy)
    refused(m, () => m.set('new', long(0)))
    const size = m.size
    m.set('n1', 7)
    expect(m.get('n1')).toBe(7)
    m.set('n2', false)
    m.set('n3', null)
    m.set('n4', 5n)
    expect([m.get('n2'), m.get('n3'), m.get('n4')]).toEqual([false, null, 5n])
    expect(m.swap('n5', -1)).toBe(5.5)
    // A full counter map keeps counting.
    for (let i = 0; i < 1000; i++) m.add('c1', 1)
    expect(m.get('c1')).toBe(1001)
    for (let i = 0; i < 100; i++) m.update('c2', (v) => (v as number) + 2)
    expect(m.get('c2')).toBe(201)
    expect(m.compareAndSet('s1', 's1', 'zz')).toBe(true)
    expect(m.compareAndSet('s2', 'wrong', 'x')).toBe(false)
    expect(m.get('s1')).toBe('zz')
    m.setMany([
      ['n6', 60],
      ['e6', false],
    ])
    expect([m.get('n6'), m.get('e6')]).toEqual([60, false])
    // None of these made room.
    refused(m, () => m.set('new', long(0)))
    // Writes that shrink the map.
    m.set('l3', 3) // a long string replaced by a number
    expect(m.get('l3')).toBe(3)
    expect(m.take('e7')).toBe(true)
    expect(m.delete(`e${rows - 1}`)).toBe(true)
    expect(m.size).toBe(size - 2)
  })

  test('a growing write is a RangeError that changes nothing', () => {
    const { m } = full(strategy)
    const huge = 'H'.repeat(4096)
    refused(m, () => m.set('new', long(0)))
    refused(m, () => m.setIfAbsent('new', long(0)))
    refused(m, () => m.getOrSet('new', long(0)))
    refused(m, () => m.compareAndSet('new', undefined, long(0)))
    refused(m, () => m.set('n1', huge))
    refused(m, () => m.swap('l1', huge))
    refused(m, () => m.compareAndSet('s1', 's1', huge))
    refused(m, () => m.update('s2', () => huge))
    // setMany writes up to the entry that does not fit, none from it on.
    const before = contents(m)
    expect(() =>
      m.setMany([
        ['n1', 10],
        ['new', huge],
        ['n2', 20],
      ]),
    ).toThrow(/index 1/)
    expect(contents(m)).toEqual(new Map(before).set('n1', 10))
  })

  const sameSize = REFUSES_SAME_SIZE_OUT_OF_LINE.has(strategy)
    ? 'long values replaced by values no longer are refused and change nothing (issue 12, item 3)'
    : 'long values replaced by values no longer are accepted'
  test(sameSize, () => {
    const { m } = full(strategy)
    const writes: [string, () => unknown, unknown][] = [
      ['l1', () => m.swap('l1', long(1, 'M')), long(1, 'M')],
      ['l2', () => m.set('l2', long(2).slice(0, 50)), long(2).slice(0, 50)],
      ['l4', () => m.compareAndSet('l4', long(4), long(4, 'N')), long(4, 'N')],
      ['l5', () => m.update('l5', (v) => (v as string).toUpperCase()), long(5).toUpperCase()],
    ]
    for (const [key, write, after] of writes) {
      if (REFUSES_SAME_SIZE_OUT_OF_LINE.has(strategy)) {
        refused(m, write)
      } else {
        write()
        expect(m.get(key)).toBe(after)
      }
    }
    refused(m, () => m.set('new', long(0)))
  })
})

describe('at maxMemory (lockfree)', () => {
  test('a value taken or deleted makes room for one no larger, under its key or another', () => {
    const { m } = full('lockfree')
    expect(m.take('l1')).toBe(long(1))
    m.set('l1', long(1, 'P'))
    expect(m.get('l1')).toBe(long(1, 'P'))
    refused(m, () => m.set('l2', long(2) + 'x'.repeat(16)))
    expect(m.delete('s1')).toBe(true)
    expect(m.compareAndSet('s1', undefined, 's1')).toBe(true)
  })
})
