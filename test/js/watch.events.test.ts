// map.watch(): events, filters, fromRevision, the compacted error, close and
// bad input, over every strategy.
import { describe, expect, test } from 'vitest'

import { ThreadMap, WATCH_EVENT_TYPES, WatchCompactedError, type WatchEvent } from '../../lib/index'
import { addon } from '../../lib/native'
import { STRATEGIES, FLAT_TABLE_STRATEGIES } from './helpers'

async function take<K, V>(it: AsyncIterator<WatchEvent<K, V>>, n: number): Promise<WatchEvent<K, V>[]> {
  const out: WatchEvent<K, V>[] = []
  while (out.length < n) {
    const r = await it.next()
    if (r.done) break
    out.push(r.value)
  }
  return out
}

describe.each(STRATEGIES)('watch on %s', (strategy) => {
  test('every write kind arrives once, with its revision and decoded value', async () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values: 'any', strategy })
    map.set('old', 1)
    const w = map.watch({ ref: true })
    expect(w.startRevision).toBe(map.revision)
    map.set('a', { deep: [1, 2] })
    const ra = map.revisionOf('a')
    map.setIfAbsent('a', 'ignored') // no change, no event
    map.add('n', 5)
    map.compareAndSet('n', 5, 6)
    map.delete('a')
    const rd = map.revision
    map.delete('a') // absent: no event
    map.clear()
    const events = await take(w, 5)
    expect(events.map((e) => e.type)).toEqual(['set', 'set', 'set', 'delete', 'clear'])
    expect(events[0]).toEqual({ type: 'set', key: 'a', value: { deep: [1, 2] }, revision: ra })
    expect(events[1]?.value).toBe(5) // add's result
    expect(events[2]?.value).toBe(6)
    expect(events[3]).toEqual({ type: 'delete', key: 'a', revision: rd })
    expect(events[4]?.key).toBeUndefined()
    const revs = events.map((e) => e.revision)
    expect([...revs].sort((x, y) => x - y)).toEqual(revs)
    await w.return()
    expect(await w.next()).toEqual({ value: undefined, done: true })
    map.close()
  })

  test('key, keys and prefix filters; clear reaches every filter', async () => {
    const map = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    const one = map.watch({ key: 'k1', ref: true })
    const some = map.watch({ keys: ['k2', 'k3'], ref: true })
    const pre = map.watch({ prefix: 'user:', ref: true })
    for (const k of ['k1', 'k2', 'k3', 'k4', 'user:1', 'user', 'users', 'user:é']) map.set(k, 1)
    map.clear()
    expect((await take(one, 2)).map((e) => e.key)).toEqual(['k1', undefined])
    expect((await take(some, 3)).map((e) => e.key)).toEqual(['k2', 'k3', undefined])
    expect((await take(pre, 3)).map((e) => e.key)).toEqual(['user:1', 'user:é', undefined])
    for (const w of [one, some, pre]) w.close()
    map.close()
  })

  test('fromRevision replays from the buffer while the map is watched; before it, compacted', async () => {
    const map = new ThreadMap<number, string>(null, { keys: 'number', values: 'string', strategy })
    map.set(0, 'unwatched')
    const keep = map.watch()
    const start = map.revision
    for (let i = 1; i <= 5; i++) map.set(i, `v${i}`)
    const replay = map.watch({ fromRevision: start + 3, ref: true })
    const got = await take(replay, 3)
    expect(got.map((e) => e.key)).toEqual([3, 4, 5])
    expect(got[0]?.revision).toBe(start + 3)
    let err: unknown
    try {
      map.watch({ fromRevision: start })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(WatchCompactedError)
    expect((err as WatchCompactedError).oldestRevision).toBe(start + 1)
    expect((err as WatchCompactedError).code).toBe('ERR_THREADMAP_COMPACTED')
    replay.close()
    keep.close()
    map.close()
  })

  test('a reader that falls behind the bounded buffer gets the oldest revision still available', async () => {
    const map = new ThreadMap<string, string>(null, { keys: 'string', values: 'string', strategy })
    const slow = map.watch({ bufferBytes: 4096 })
    const value = 'x'.repeat(500)
    for (let i = 0; i < 100; i++) map.set(`k${i % 10}`, value)
    let err: unknown
    try {
      await slow.next()
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(WatchCompactedError)
    const oldest = (err as WatchCompactedError).oldestRevision
    expect(oldest).toBeGreaterThan(1)
    expect(oldest).toBeLessThanOrEqual(map.revision)
    expect(await slow.next()).toEqual({ value: undefined, done: true }) // ended, released
    map.close()
  })

  test('stats().watch: watchers, snapshots, the buffer, its oldest revision, drops and compacted errors', async () => {
    const map = new ThreadMap<string, string>(null, { keys: 'string', values: 'string', strategy })
    const zero = {
      watchers: 0,
      snapshots: 0,
      bufferBytes: 0,
      bytes: 0,
      events: 0,
      oldestRevision: 0,
      appended: 0,
      dropped: 0,
      compactedErrors: 0,
    }
    expect(map.stats().watch).toEqual(zero)
    map.set('before', 'x') // not watched: not logged
    const a = map.watch({ bufferBytes: 8192 })
    const b = map.watch({ key: 'k1' }) // the default buffer, 8 MiB
    const s = map.snapshot({ bufferBytes: 4096 })
    expect(map.stats().watch).toEqual({
      ...zero,
      watchers: 2,
      snapshots: 1,
      bufferBytes: 8 << 20,
      oldestRevision: map.revision + 1,
    })
    const value = 'v'.repeat(100)
    for (let i = 0; i < 200; i++) map.set(`k${i % 10}`, value)
    let st = map.stats().watch
    expect(st).toMatchObject({ appended: 200, events: 200, dropped: 0, oldestRevision: map.revision - 199 })
    expect(st.bytes).toBeGreaterThan(200 * value.length)
    b.close() // the largest buffer goes: the bound falls to a's, and the oldest events go
    st = map.stats().watch
    expect(st.watchers).toBe(1)
    expect(st.bufferBytes).toBe(8192)
    expect(st.bytes).toBeLessThanOrEqual(8192)
    expect(st.dropped).toBeGreaterThan(0)
    expect(st.events + st.dropped).toBe(200)
    expect(st.oldestRevision).toBe(map.revision + 1 - st.events)
    await expect(a.next()).rejects.toThrow(WatchCompactedError) // a had read none of them
    expect(map.stats().watch).toMatchObject({ watchers: 0, snapshots: 1, bufferBytes: 4096, compactedErrors: 1 })
    s.refresh() // behind as well: copies the map again, and counts
    expect(s.stats().fullCopies).toBe(2)
    expect(map.stats().watch.compactedErrors).toBe(2)
    s.close() // not watched any more: nothing held; the totals stay
    const end = map.stats().watch
    expect({ ...end, dropped: 0 }).toEqual({ ...zero, appended: 200, compactedErrors: 2 })
    expect(end.dropped).toBeGreaterThanOrEqual(st.dropped)
    map.close()
  })

  test('closing the map ends every watch', async () => {
    const map = new ThreadMap<string, string>(null, { keys: 'string', values: 'string', strategy })
    const w = map.watch({ ref: true })
    const pending = w.next()
    map.close()
    expect(await pending).toEqual({ value: undefined, done: true })
  })
})

describe('watch: bad input is a TypeError or RangeError that changes nothing', () => {
  const map = new ThreadMap<string, string>(null, { keys: 'string', values: 'string' })
  const numbers = new ThreadMap<number, string>(null, { keys: 'number', values: 'string' })
  const cases: [string, () => unknown, ErrorConstructor | RangeErrorConstructor][] = [
    ['unknown option', () => map.watch({ kye: 'a' } as never), TypeError],
    ['two filters', () => map.watch({ key: 'a', prefix: 'b' }), TypeError],
    ['keys not an array', () => map.watch({ keys: 'a' as never }), TypeError],
    ['key of the wrong type', () => map.watch({ key: 1 as never }), TypeError],
    ['prefix of the wrong type', () => map.watch({ prefix: 5 as never }), TypeError],
    ['prefix on number keys', () => numbers.watch({ prefix: '1' }), TypeError],
    ['fromRevision not a number', () => map.watch({ fromRevision: '3' as never }), TypeError],
    ['fromRevision 0', () => map.watch({ fromRevision: 0 }), RangeError],
    ['fromRevision fractional', () => map.watch({ fromRevision: 1.5 }), RangeError],
    ['fromRevision negative', () => map.watch({ fromRevision: -1 }), RangeError],
    ['bufferBytes too small', () => map.watch({ bufferBytes: 10 }), RangeError],
    ['bufferBytes not a number', () => map.watch({ bufferBytes: '1' as never }), TypeError],
    ['options not an object', () => map.watch(3 as never), TypeError],
    ['ref not a boolean', () => map.watch({ ref: 1 as never }), TypeError],
  ]
  test.each(cases)('%s', (_name, f, cls) => {
    map.set('a', '1')
    const rev = map.revision
    expect(f).toThrow(cls)
    // Nothing changed: no revision drawn, and the map is not left watched
    // (a watch from the next revision is the oldest one can ask for).
    expect(map.revision).toBe(rev)
    expect(map.stats().watch.watchers).toBe(0)
    expect(() => map.watch({ fromRevision: rev })).toThrow(WatchCompactedError)
  })
  test('the event type names are the core\'s', () => {
    expect(WATCH_EVENT_TYPES).toEqual(addon.watchEvents)
  })
})

// Maps that evict log each victim as an `evict` event, ordered with the
// key's other events, so a watcher replaying the feed and a snapshot both
// end at the map's contents.
describe.each(FLAT_TABLE_STRATEGIES)('watch and snapshot of a cache on %s', (strategy) => {
  function replay(events: WatchEvent<string, string>[], into: Map<string, string>): Map<string, string> {
    for (const e of events) {
      if (e.type === 'set') into.set(e.key as string, e.value as string)
      else if (e.type === 'clear') into.clear()
      else into.delete(e.key as string)
    }
    return into
  }

  test('a watcher of a maxEntries map sees evict events; its feed replayed is the map', async () => {
    const cache = new ThreadMap<string, string>(null, { keys: 'string', values: 'string', strategy, maxEntries: 64 })
    for (let i = 0; i < 30; i++) cache.set(`pre${i}`, 'p')
    const start = new Map(cache)
    const w = cache.watch({ ref: true })
    const before = cache.stats().evictions
    let deletes = 0
    for (let i = 0; i < 300; i++) {
      if (i % 7 === 0 && cache.delete(`k${i - 2}`)) deletes++
      cache.set(`k${i}`, `v${i}`)
      if (i % 3 === 0) cache.get(`k${i}`) // uses, so the policy has a say
    }
    const evicted = cache.stats().evictions - before
    expect(evicted).toBeGreaterThan(0)
    expect(deletes).toBeGreaterThan(0)
    const events = await take(w, 300 + evicted + deletes)
    w.close()
    const evicts = events.filter((e) => e.type === 'evict')
    expect(evicts.length).toBe(evicted)
    for (const e of evicts) {
      expect(Object.keys(e).sort()).toEqual(['key', 'revision', 'type'])
      expect(typeof e.key).toBe('string')
    }
    const last = new Map<string, number>()
    for (const e of events) {
      expect(e.revision).toBeGreaterThan(last.get(e.key as string) ?? 0) // per key, in order
      last.set(e.key as string, e.revision)
    }
    expect(replay(events, start)).toEqual(new Map(cache))
    expect(cache.size).toBeLessThanOrEqual(64)
    cache.close()
  })

  test('a snapshot of a full cache is the map, and so is its refresh after more evictions', () => {
    const cache = new ThreadMap<string, string>(null, { keys: 'string', values: 'string', strategy, maxEntries: 64 })
    for (let i = 0; i < 200; i++) cache.set(`k${i}`, `v${i}`)
    const s = cache.snapshot()
    expect(s.size).toBe(cache.size)
    expect(new Map(s)).toEqual(new Map(cache))
    const evicted = cache.stats().evictions
    for (let i = 200; i < 400; i++) cache.set(`k${i}`, `v${i}`)
    expect(cache.stats().evictions).toBeGreaterThan(evicted)
    s.refresh()
    expect(s.size).toBeLessThanOrEqual(64)
    expect(new Map(s)).toEqual(new Map(cache))
    expect(s.revision).toBe(cache.revision)
    s.close()
    cache.close()
  })
})
