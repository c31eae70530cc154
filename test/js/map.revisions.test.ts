// Entry revisions from JavaScript: which calls stamp, what map.revision and
// revisionOf report, batches, and revisions written by several workers.
import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { FLAT_TABLE_STRATEGIES, runWorker, STRATEGIES } from './helpers'

// The strategies that can skip revisions (supports_skipping_revisions in the core).
const SKIPPING: readonly string[] = FLAT_TABLE_STRATEGIES

describe.each(STRATEGIES)('revisions (%s)', (strategy) => {
  function make<V>(values: 'any' | 'number' | 'json' = 'any'): ThreadMap<string, V> {
    return new ThreadMap<string, V>(null, { keys: 'string', values, strategy: strategy as never })
  }

  // Runs `write` and checks how far map.revision moved.
  function moves(map: { readonly revision: number }, by: number, write: () => unknown): void {
    const before = map.revision
    write()
    expect(map.revision - before).toBe(by)
  }

  test('every kind of write stamps once; reads and writes that change nothing do not', () => {
    const map = make<unknown>()
    expect(map.revision).toBe(0)
    expect(map.revisionOf('a')).toBeUndefined()
    moves(map, 1, () => map.set('a', { x: 1 }))
    expect(map.revisionOf('a')).toBe(map.revision)
    moves(map, 1, () => map.set('a', 2))
    expect(map.revisionOf('a')).toBe(map.revision)
    moves(map, 0, () => map.get('a'))
    moves(map, 0, () => map.has('a'))
    moves(map, 0, () => map.setIfAbsent('a', 3))
    moves(map, 1, () => map.setIfAbsent('b', 3))
    moves(map, 0, () => map.compareAndSet('b', 4, 5))
    moves(map, 1, () => map.compareAndSet('b', 3, 5))
    moves(map, 1, () => map.compareAndSet('c', undefined, 1))
    moves(map, 1, () => map.compareAndSet('c', 1, undefined))
    expect(map.revisionOf('c')).toBeUndefined()
    moves(map, 1, () => map.getOrSet('d', 1))
    moves(map, 0, () => map.getOrSet('d', 2))
    moves(map, 1, () => map.swap('d', 3))
    moves(map, 1, () => map.take('d'))
    moves(map, 0, () => map.take('d'))
    moves(map, 1, () => map.add('n', 1))
    moves(map, 1, () => map.add('n', 1))
    expect(map.revisionOf('n')).toBe(map.revision)
    moves(map, 1, () => map.update('n', (v) => (v as number) + 1))
    // A delete is a revision too, though no entry keeps it.
    const before = map.revisionOf('a')!
    moves(map, 1, () => map.delete('a'))
    expect(map.revisionOf('a')).toBeUndefined()
    moves(map, 0, () => map.delete('a'))
    moves(map, 1, () => map.set('a', 1))
    expect(map.revisionOf('a')).toBeGreaterThan(before)
    // clear() is one revision, whatever it removes.
    moves(map, 1, () => map.clear())
    moves(map, 1, () => map.clear())
    expect(map.revisionOf('b')).toBeUndefined()
    map.close()
  })

  test('each changed entry of a batch is its own revision, in the batch order', () => {
    const map = make<number>('number')
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`)
    moves(map, 50, () => map.setMany(keys.map((k, i) => [k, i] as [string, number])))
    const revs = keys.map((k) => map.revisionOf(k)!)
    expect(new Set(revs).size).toBe(50)
    for (let i = 1; i < revs.length; i++) expect(revs[i]).toBeGreaterThan(revs[i - 1])
    expect(revs[49]).toBe(map.revision)
    moves(map, 10, () => map.deleteMany([...keys.slice(0, 10), 'absent', 'k0']))
    expect(map.revisionOf('k0')).toBeUndefined()
    moves(map, 0, () => map.getMany(keys))
    map.close()
  })

  test('revisions written by workers are unique, increase per worker, and are seen by every thread', async () => {
    const map = make<unknown>()
    const rounds = 398 // the last write (i = 397) sets w<id>:13
    const results = await Promise.all(
      [0, 1, 2].map((id) =>
        runWorker<{ revisions: number[]; ordered: boolean; seen: number }>('revisions.mjs', {
          handle: map.handle(),
          rounds,
          id,
        }),
      ),
    )
    const all = results.flatMap((r) => r.revisions)
    for (const r of results) expect(r.ordered).toBe(true)
    expect(new Set(all).size).toBe(all.length)
    // Every write drew one; the compare-and-swap strategies may skip some.
    expect(map.revision).toBeGreaterThanOrEqual(3 * rounds)
    expect(map.revision).toBeGreaterThanOrEqual(Math.max(...all))
    // The main thread reads the revisions the workers' last writes left.
    const w0 = results[0].revisions
    expect(map.revisionOf('w0:13')).toBe(w0[w0.length - 1])
    map.close()
  })
})

function withoutRevisions(strategy: string) {
  return { keys: 'string', values: 'any', strategy: strategy as never, revisions: false } as const
}

describe.each(STRATEGIES.filter((s) => !SKIPPING.includes(s)))('revisions: false (%s)', (strategy) => {
  test('is refused with a TypeError naming the strategies that can', () => {
    const options = withoutRevisions(strategy)
    expect(() => new ThreadMap(null, options)).toThrow(TypeError)
    expect(() => new ThreadMap(null, options)).toThrow(
      `options.revisions false needs the 'mutex', 'striped' or 'rwlock' strategy (or 'auto'), not '${strategy}'`,
    )
  })
})

describe.each(STRATEGIES.filter((s) => SKIPPING.includes(s)))('revisions: false (%s)', (strategy) => {
  const options = withoutRevisions(strategy)

  test('stores every write; revision, revisionOf, watch and snapshot are TypeErrors', () => {
    const map = new ThreadMap<string, unknown>(null, options)
    expect(map.keepsRevisions).toBe(false)
    map.set('a', { x: 1 })
    map.set('b', 'x'.repeat(200))
    map.add('n', 2)
    map.add('n', 3)
    map.delete('b')
    expect(map.get('a')).toEqual({ x: 1 })
    expect(map.get('n')).toBe(5)
    expect(map.size).toBe(2)
    expect(() => map.revision).toThrow(TypeError)
    expect(() => map.revision).toThrow('revision needs revisions, and this map was made with revisions: false')
    expect(() => map.revisionOf('a')).toThrow(TypeError)
    expect(() => map.watch()).toThrow(TypeError)
    expect(() => map.watch()).toThrow('watch() needs revisions')
    expect(() => map.snapshot()).toThrow(TypeError)
    expect(() => map.snapshot()).toThrow('snapshot() needs revisions')
    // Refused calls changed nothing: the map still takes writes and reads.
    map.set('c', [1, 2])
    expect([...map.keys()].sort()).toEqual(['a', 'c', 'n'])
    map.close()
  })

  test('revisions must be a boolean, and readCache needs revisions', () => {
    expect(() => new ThreadMap(null, { ...options, revisions: 0 as never })).toThrow(TypeError)
    expect(() => new ThreadMap(null, { ...options, revisions: 0 as never })).toThrow(
      'options.revisions must be a boolean',
    )
    expect(() => new ThreadMap(null, { ...options, readCache: 10 })).toThrow(TypeError)
    expect(() => new ThreadMap(null, { ...options, readCache: 10 })).toThrow('options.readCache needs revisions')
    const auto = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', revisions: false })
    auto.set('a', 1)
    expect(auto.get('a')).toBe(1)
    auto.close()
    const on = new ThreadMap<string, number>(null, { ...options, values: 'number', revisions: true })
    on.set('a', 1)
    expect(on.keepsRevisions).toBe(true)
    expect(on.revision).toBe(1)
    on.close()
  })

  test('workers share the map and its refusal', async () => {
    const map = new ThreadMap<string, unknown>(null, options)
    const results = await Promise.all(
      [0, 1].map((id) =>
        runWorker<{ error: string; wrote: number; keeps: boolean }>('revisions-off.mjs', { handle: map.handle(), id, rounds: 500 }),
      ),
    )
    for (const r of results) {
      expect(r.error).toBe('TypeError')
      expect(r.keeps).toBe(false)
      expect(r.wrote).toBe(500)
    }
    for (const id of [0, 1])
      for (let i = 0; i < 500; i++) expect(map.get(`w${id}:${i}`)).toEqual({ id, i })
    expect(map.size).toBe(1000)
    map.close()
  })
})
