// Read-cache hits without a native call (issue 14; lib/read-cache.ts, "Hits
// without a call"; native/core/include/threadmap/detail/striped.hpp, "Write
// versions"). Which maps take the fast path, that every kind of write in
// this thread makes the next get ask the map, that fast hits are counted,
// the fallback when external buffers are refused, and closed maps.
//
// Whether a get made a native call is read off the io buffer: every io call
// leaves noRef in the reference slot, and the fast path writes nothing, so a
// sentinel written there before the get survives exactly a fast hit.
import { afterEach, describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { addon, IO_LAYOUT, io } from '../../lib/native'
import { collect, exited, message, runWorker, startWorker, STRATEGIES } from './helpers'

const SENTINEL = -12345

/** Runs get(key) and says whether it made a native call. */
function probe<K, V>(map: ThreadMap<K, V>, key: K): { value: V | undefined; native: boolean } {
  io[IO_LAYOUT.ref] = SENTINEL
  const value = map.get(key)
  const native = io[IO_LAYOUT.ref] !== SENTINEL
  io[IO_LAYOUT.ref] = IO_LAYOUT.noRef
  return { value, native }
}

const VERSIONED = ['striped', 'mutex', 'rwlock'] as const
const doc = { id: 1, name: 'ada', tags: ['a', 'b'], geo: { city: 'x' } }

describe.each(STRATEGIES)('read-cache fast hits (%s)', (strategy) => {
  const versioned = (VERSIONED as readonly string[]).includes(strategy)
  const make = (extra: object = {}): ThreadMap<string, unknown> =>
    new ThreadMap<string, unknown>(null, { keys: 'string', strategy: strategy as never, readCache: 64, ...extra })

  test(`a repeated get ${versioned ? 'makes no native call' : 'still makes its native call'}, and counts as a hit`, () => {
    const map = make()
    map.set('u', doc)
    expect(probe(map, 'u')).toEqual({ value: doc, native: true }) // the miss
    const a = probe(map, 'u')
    const b = probe(map, 'u')
    expect(a.value).toBe(b.value)
    expect(a.value).toEqual(doc)
    expect([a.native, b.native]).toEqual([!versioned, !versioned])
    expect(map.stats().readCache).toEqual({ limit: 64, size: 1, hits: 2, misses: 1 })
    map.close()
  })

  // A watched map's writes reach the map through the watch wrapper, which
  // hands out the map's own words: watching (before or after the ThreadMap
  // reads them) changes nothing about which gets make a call, and a write
  // while watched still makes the next get ask.
  test(`a watched map's gets ${versioned ? 'hit without a call' : 'still make their call'}, and see its writes`, async () => {
    const map = make()
    const watcher = map.watch()
    map.set('u', doc)
    expect(probe(map, 'u').native).toBe(true)
    expect(probe(map, 'u')).toEqual({ value: doc, native: !versioned })
    map.set('u', { ...doc, id: 2 })
    expect(probe(map, 'u')).toEqual({ value: { ...doc, id: 2 }, native: true })
    expect(probe(map, 'u').native).toBe(!versioned)
    await watcher.return()
    map.set('u', doc) // no longer watched: the same words
    expect(probe(map, 'u')).toEqual({ value: doc, native: true })
    expect(probe(map, 'u').native).toBe(!versioned)
    map.close()
  })

  // Every write path of one thread, each followed by gets of the key it
  // changed (which must ask the map) and of an untouched key.
  test('every kind of write makes the next get of its key ask the map', () => {
    const map = make()
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`)
    map.setMany(keys.map((k) => [k, { k }]))
    for (const k of keys) probe(map, k) // cache them all
    const steps: [string, () => void, string, unknown][] = [
      ['set', () => map.set('k0', { v: 1 }), 'k0', { v: 1 }],
      ['setIfAbsent (inserts)', () => map.setIfAbsent('new', 5), 'new', 5],
      ['delete', () => map.delete('k1'), 'k1', undefined],
      ['compareAndSet', () => map.compareAndSet('new', 5, 6), 'new', 6],
      ['swap', () => map.swap('k2', 'two'), 'k2', 'two'],
      ['take', () => map.take('k3'), 'k3', undefined],
      ['add', () => map.add('n', 2), 'n', 2],
      ['add again', () => map.add('n', 3), 'n', 5],
      ['setMany', () => map.setMany([['k4', 4], ['k5', 5]]), 'k5', 5],
      ['deleteMany', () => map.deleteMany(['k6', 'k7']), 'k7', undefined],
      ['getOrSet (inserts)', () => map.getOrSet('k8', 'ignored'), 'k8', { k: 'k8' }],
    ]
    for (const [name, write, key, expected] of steps) {
      probe(map, key)
      write()
      expect([name, probe(map, key).value]).toEqual([name, expected])
      const again = probe(map, key)
      expect([name, again.value]).toEqual([name, expected])
      // Cached again (absent keys are not cached, so they always ask).
      if (expected !== undefined) expect([name, again.native]).toEqual([name, !versioned])
    }
    // Growth: many new keys make the stripes rebuild their tables; every
    // cached entry must still read its value.
    map.setMany(Array.from({ length: 3000 }, (_, i) => [`g${i}`, i] as [string, number]))
    for (const k of keys.slice(9)) expect(probe(map, k).value).toEqual({ k })
    map.clear()
    for (const k of [...keys, 'n', 'new']) expect(probe(map, k)).toEqual({ value: undefined, native: true })
    map.close()
  })

  if (versioned) {
    test('a write to another key of the map leaves most cached entries without a call', () => {
      const map = make()
      const keys = Array.from({ length: 64 }, (_, i) => `k${i}`)
      for (const k of keys) map.set(k, { k })
      for (const k of keys) probe(map, k)
      map.set('k0', { k: 'changed' })
      let calls = 0
      for (const k of keys) {
        const r = probe(map, k)
        expect(r.value).toEqual(k === 'k0' ? { k: 'changed' } : { k })
        if (r.native) calls++
      }
      // k0 and the keys that share its stripe (one stripe for mutex and
      // rwlock, so there every entry asks once).
      const { stripes } = map.stats()
      expect(calls).toBeGreaterThanOrEqual(1)
      if (stripes > 1) expect(calls).toBeLessThan(keys.length)
      else expect(calls).toBe(keys.length)
      map.close()
    })

    test.each([
      ['maxEntries', { maxEntries: 100 }],
      ['maxMemory with a policy', { maxMemory: 1 << 20, evict: 'clock' }],
      ['ttl', { ttl: 60_000 }],
    ])('maps with %s keep the native call', (_, extra) => {
      const map = make(extra)
      map.set('u', doc)
      probe(map, 'u')
      expect(probe(map, 'u')).toEqual({ value: doc, native: true })
      expect(map.stats().readCache).toMatchObject({ hits: 1, misses: 1 })
      map.close()
    })
  }

  test('a get after close() throws, even of a cached entry', () => {
    const map = make()
    map.set('u', doc)
    probe(map, 'u')
    probe(map, 'u')
    map.close()
    expect(() => map.get('u')).toThrow(/closed/)
  })
})

describe('read-cache fast hits: the views and their lifetime', () => {
  afterEach(() => {
    delete process.env.THREADMAP_TEST_VERSIONS_FALLBACK
  })

  test('readVersions: a buffer for versioned maps with a read cache, undefined otherwise', () => {
    const cases: [object, boolean][] = [
      [{ strategy: 'striped', readCache: 4 }, true],
      [{ strategy: 'mutex', readCache: 4 }, true],
      [{ strategy: 'rwlock', readCache: 4 }, true],
      [{ strategy: 'striped' }, false],
      [{ strategy: 'lockfree', readCache: 4 }, false],
      [{ strategy: 'readmostly', readCache: 4 }, false],
      [{ strategy: 'ordered', readCache: 4 }, false],
      [{ strategy: 'striped', readCache: 4, maxEntries: 10 }, false],
      [{ strategy: 'striped', readCache: 4, ttl: 1000 }, false],
    ]
    for (const [options, has] of cases) {
      if (!(STRATEGIES as readonly string[]).includes((options as { strategy: string }).strategy)) continue
      const map = new ThreadMap(null, options)
      const b = addon.readVersions(nativeOf(map).ref)
      expect([options, b instanceof ArrayBuffer]).toEqual([options, has])
      if (b) {
        const words = new Int32Array(b)
        const { stripes } = map.stats()
        expect(b.byteLength % stripes).toBe(0)
        // Even (no write running), and a write moves its stripe's word by 2.
        const before = Array.from({ length: stripes }, (_, i) => Atomics.load(words, (i * b.byteLength) / stripes / 4))
        expect(before.every((v) => v % 2 === 0)).toBe(true)
        map.set('x', 1)
        const after = Array.from({ length: stripes }, (_, i) => Atomics.load(words, (i * b.byteLength) / stripes / 4))
        expect(after.reduce((n, v, i) => n + v - before[i]!, 0)).toBe(2)
      }
      map.close()
    }
  })

  test('with external buffers refused (the test switch) every get asks the map, and answers right', () => {
    process.env.THREADMAP_TEST_VERSIONS_FALLBACK = '1'
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', strategy: 'striped', readCache: 8 })
    expect(addon.readVersions(nativeOf(map).ref)).toBeUndefined()
    map.set('u', doc)
    for (let i = 0; i < 3; i++) expect(probe(map, 'u')).toEqual({ value: doc, native: true })
    map.set('u', { v: 2 })
    expect(probe(map, 'u')).toEqual({ value: { v: 2 }, native: true })
    expect(map.stats().readCache).toEqual({ limit: 8, size: 1, hits: 2, misses: 2 })
    map.close()
    delete process.env.THREADMAP_TEST_VERSIONS_FALLBACK
    const fast = new ThreadMap<string, unknown>(null, { keys: 'string', strategy: 'striped', readCache: 8 })
    fast.set('u', doc)
    probe(fast, 'u')
    expect(probe(fast, 'u').native).toBe(false)
    fast.close()
  })

  // JavaScript's loads through the view are not instrumented by ASan; to
  // see a use-after-free here, run this file with an ASan build of the addon
  // (cmake-js ... --CDTHREADMAP_SANITIZE=address) preloaded and
  // ASAN_OPTIONS=detect_leaks=0:max_free_fill_size=1048576:free_fill_byte=2:
  // freed words then read even, and this test fails (it did, with the
  // buffer's reference to the words taken out on purpose).
  test('a view read after the map is closed and freed reads odd words (never a match), not freed memory', async () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', strategy: 'striped', readCache: 8 })
    const b = addon.readVersions(nativeOf(map).ref)!
    const words = new Int32Array(b)
    map.set('u', doc)
    map.close()
    await collect()
    // The map is gone (close() frees at once); the words are the view's.
    for (let i = 0; i < words.length; i += 16) expect(Atomics.load(words, i) % 2).not.toBe(0)
  })

  test("a map closed in a worker: this thread's cached entries are not served", async () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', strategy: 'striped', readCache: 8 })
    map.set('u', doc)
    probe(map, 'u')
    expect(probe(map, 'u').native).toBe(false)
    const w = startWorker('read-cache-fast-close.mjs', { handle: map.handle() })
    const exit = exited(w) // listening before it can exit
    await message(w, 'closed')
    expect(await exit).toBe(0)
    expect(() => map.get('u')).toThrow(/closed/)
  })

  test('a worker that holds a view and is terminated mid-reads frees nothing the main thread uses', async () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', strategy: 'striped', readCache: 64 })
    for (let i = 0; i < 32; i++) map.set(`k${i}`, { i })
    for (let round = 0; round < 3; round++) {
      const w = startWorker('read-cache-fast-reader.mjs', { handle: map.handle() })
      await message(w, 'reading')
      map.set('k0', { i: -round })
      await w.terminate()
    }
    await collect()
    for (let i = 1; i < 32; i++) expect(map.get(`k${i}`)).toEqual({ i })
    expect(map.get('k0')).toEqual({ i: -2 })
    // And a worker that outlives the map: its reads after close() throw.
    const w = startWorker('read-cache-fast-reader.mjs', { handle: map.handle(), untilClosed: true })
    const exit = exited(w)
    const result = message<{ error: string; fast: number }>(w, 'result')
    await message(w, 'reading')
    map.close()
    const r = await result
    expect(r.error).toMatch(/closed/)
    expect(r.fast).toBeGreaterThan(0) // it was reading without calls when the map closed
    expect(await exit).toBe(0)
  })

  test('stats counts fast hits from workers too', async () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', strategy: 'striped', readCache: 8 })
    map.set('u', doc)
    const r = await runWorker<{ hits: number; misses: number; fast: number }>('read-cache-fast-reader.mjs', {
      handle: map.handle(),
      reads: 100,
    })
    expect(r).toEqual({ type: 'result', hits: 99, misses: 1, fast: 99 })
    map.close()
  })
})

// A reference to the map in this thread's addon slot table: a second
// native wrapper of the same map (the ThreadMap's own is private).
function nativeOf<K, V>(map: ThreadMap<K, V>): { ref: number } {
  return { ref: addon.info(addon.attach(map.handle().id)).ref }
}
