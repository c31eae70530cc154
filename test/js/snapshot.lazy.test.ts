// map.snapshot() on mutex, rwlock and striped is lazy (copy-on-write,
// snapshot.hpp, LAZY): a claim per stripe, settled by the first write that
// changes the stripe or by the snapshot's first read of it. Units read
// before and after a writer copied them, several snapshots with one
// closing, a snapshot closed while workers write, maps that evict and
// expire, clear, a map closed under a pending snapshot, and the option's
// bad input. (snapshot.consistency.test.ts runs the oracle on every
// strategy, lazily where the strategy allows.) A write that skips the copy,
// or a claim left linked after its copy (so later writes copy into it
// again), makes most of these cases differ from their models.
import { describe, expect, test } from 'vitest'

import { ThreadMap, type ThreadMapOptions } from '../../lib/index'
import { addon } from '../../lib/native'
import { exited, message, startWorker, STRATEGIES, FLAT_TABLE_STRATEGIES } from './helpers'

const LAZY = FLAT_TABLE_STRATEGIES.filter((s) => STRATEGIES.includes(s))

function fill(map: ThreadMap<string, number>, n: number, offset = 0): Map<string, number> {
  const model = new Map<string, number>()
  for (let i = 0; i < n; i++) {
    map.set(`k${i}`, i + offset)
    model.set(`k${i}`, i + offset)
  }
  return model
}

// A snapshot holds exactly `model` (the map at its take), and after
// refresh() exactly the map; then both are closed.
function expectHeldThenRefreshed<V>(
  map: ThreadMap<string, V>,
  s: ReturnType<ThreadMap<string, V>['snapshot']>,
  model: Map<string, V>,
): void {
  expect(s.size).toBe(model.size)
  expect(new Map(s)).toEqual(model)
  s.refresh()
  expect(new Map(s)).toEqual(new Map(map))
  s.close()
  map.close()
}

describe.each(LAZY)('lazy snapshot on %s', (strategy) => {
  test('units read before and after a writer copied them hold the entries of the take', () => {
    const map = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    const model = fill(map, 3000)
    const s = map.snapshot()
    expect(s.stats().lazy).toBe(true)
    // One unit copied by the snapshot's own read, before any write ...
    expect(s.get('k7')).toBe(7)
    // ... then one write copies its unit first (on striped the others stay
    // pending and are read from their claims below) ...
    map.set('k1', -1)
    expect(s.get('k1')).toBe(1)
    // ... and every key changed, deleted or added afterwards, read after.
    for (let i = 0; i < 3000; i += 2) map.set(`k${i}`, -i)
    for (let i = 1; i < 3000; i += 3) map.delete(`k${i}`)
    map.set('new', 1)
    expect(s.size).toBe(3000)
    expect(s.has('new')).toBe(false)
    for (const [k, v] of model) expect(s.get(k)).toBe(v)
    expect(new Map(s)).toEqual(model)
    s.refresh()
    expect(new Map(s)).toEqual(new Map(map))
    expect(s.size).toBe(map.size)
    s.close()
    map.close()
  })

  test('several snapshots at once, claims on the same units, one closing', () => {
    const map = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    const m1 = fill(map, 1000)
    const s1 = map.snapshot()
    const s2 = map.snapshot() // the same units claimed twice
    map.set('k0', 100)
    const m3 = new Map(map)
    const s3 = map.snapshot()
    const eager = map.snapshot({ copy: 'eager' })
    expect(eager.stats().lazy).toBe(false)
    s1.close() // its claims go; the others' stay
    for (let i = 0; i < 1000; i++) map.set(`k${i}`, -i)
    map.delete('k5')
    expect(() => s1.get('k0')).toThrow(/closed/)
    expect(new Map(s2)).toEqual(m1)
    expect(new Map(s3)).toEqual(m3)
    expect(new Map(eager)).toEqual(m3)
    s2.refresh()
    expect(new Map(s2)).toEqual(new Map(map))
    expect(new Map(s3)).toEqual(m3)
    s2.close()
    s3.close()
    eager.close()
    expect(map.stats().watch.snapshots).toBe(0)
    map.close()
  })

  test('clear copies every unit first', () => {
    const map = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    const model = fill(map, 2000)
    const s = map.snapshot()
    map.clear()
    map.set('after', 1)
    expect(new Map(s)).toEqual(model)
    s.refresh()
    expect([...s]).toEqual([['after', 1]])
    s.close()
    map.close()
  })

  test('a map that evicts: the victims stay in the snapshot', () => {
    const map = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy, maxEntries: 512 })
    fill(map, 512) // a stripe that fills before the others evicts already
    const model = new Map(map)
    const s = map.snapshot()
    expect(s.stats().lazy).toBe(true)
    const before = map.stats().evictions
    for (let i = 0; i < 4096; i++) map.set(`new${i}`, i) // evicts the old keys, from every stripe
    expect(map.stats().evictions - before).toBeGreaterThan(model.size)
    expectHeldThenRefreshed(map, s, model)
  })

  test('a map bounded by maxMemory: victims taken from other stripes stay in the snapshot', () => {
    const map = new ThreadMap<string, string>(null, { keys: 'string', values: 'string', strategy, maxMemory: 1 << 20, evict: 'clock' })
    const big = (i: number): string => `${i}:`.padEnd(300, 'x') // out of line: evicting frees memory
    for (let i = 0; i < 2000; i++) map.set(`old${i}`, big(i))
    const model = new Map(map)
    const s = map.snapshot()
    const before = map.stats().evictions
    for (let i = 0; i < 4000; i++) map.set(`new${i}`, big(i))
    expect(map.stats().evictions - before).toBeGreaterThan(model.size / 2)
    expectHeldThenRefreshed(map, s, model)
  })

  test('a map that expires: what the take held, whatever expires and is reclaimed after', () => {
    const options: ThreadMapOptions = { keys: 'string', values: 'number', strategy, ttl: 50 }
    const map = new ThreadMap<string, number>(null, options)
    const id = map.handle().id
    addon.testAdvanceClock(id, 0) // the stopped test clock
    const model = fill(map, 500)
    map.set('gone', 1, { ttl: 10 })
    addon.testAdvanceClock(id, 10) // 'gone' expired before the take: not in it
    const s = map.snapshot()
    expect(s.size).toBe(500)
    addon.testAdvanceClock(id, 100) // everything expires ...
    map.set('fresh', 1) // ... a write sweeps some of it ...
    map.purgeStale() // ... and this reclaims the rest, in every unit
    expect(map.size).toBe(1)
    expect(s.size).toBe(500)
    expect(new Map(s)).toEqual(model)
    s.refresh() // the expirations arrive as events
    expect([...s]).toEqual([['fresh', 1]])
    s.close()
    map.close()
  })

  test('closing the map settles the pending units: the snapshot stays readable', () => {
    const map = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    const model = fill(map, 5000)
    const s = map.snapshot()
    map.set('k1', -1) // one unit copied by a writer, the rest pending
    map.close()
    expect(() => s.refresh()).toThrow(/closed/)
    expect(s.size).toBe(5000)
    expect(new Map(s)).toEqual(model)
    s.close()
  })
})

test('snapshots taken and closed while workers write: no crash, the writers go on, the map stays right', async () => {
  const strategy = LAZY.includes('striped') ? 'striped' : LAZY[0]
  const map = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
  const handle = map.handle()
  const stop = new SharedArrayBuffer(4)
  const writers = [0, 1].map((id) => startWorker('snapshot-writer.mjs', { handle, id, stop }))
  const results = writers.map((w) => message<{ n: number }>(w, 'result'))
  const exits = writers.map((w) => exited(w))
  while ((map.get('b0') ?? 0) < 10 || (map.get('b1') ?? 0) < 10) await new Promise((r) => setTimeout(r, 5))
  for (let i = 0; i < 60; i++) {
    const s = map.snapshot()
    // Closed at once (claims dropped while writers settle others), after
    // one read, or after a full iteration.
    if (i % 3 === 1) expect(s.has('a0')).toBe(true)
    if (i % 3 === 2) {
      const e = new Map(s)
      for (const id of [0, 1]) {
        const a = e.get(`a${id}`) ?? 0
        const b = e.get(`b${id}`) ?? 0
        expect(a === b || a === b + 1).toBe(true)
      }
    }
    s.close()
    if (i % 10 === 0) await new Promise((r) => setImmediate(r))
  }
  Atomics.store(new Int32Array(stop), 0, 1)
  const ns = await Promise.all(results)
  for (const e of exits) expect(await e).toBe(0)
  expect(map.get('b0')).toBe(ns[0]?.n)
  expect(map.get('b1')).toBe(ns[1]?.n)
  expect(map.stats().watch.snapshots).toBe(0)
  map.close()
})

test('copy is lazy or eager; other strategies copy eagerly; bad values are TypeErrors that change nothing', () => {
  for (const strategy of STRATEGIES) {
    const map = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    map.set('a', 1)
    const s = map.snapshot({ copy: 'lazy' })
    expect(s.stats().lazy).toBe((LAZY as readonly string[]).includes(strategy))
    expect(s.get('a')).toBe(1)
    s.close()
    const rev = map.revision
    expect(() => map.snapshot({ copy: 'cow' as never })).toThrow(TypeError)
    expect(() => map.snapshot({ copy: true as never })).toThrow(TypeError)
    expect(map.revision).toBe(rev)
    expect(map.stats().watch.snapshots).toBe(0)
    map.close()
  }
})
