// map.snapshot(): a read-only view at one revision. Equal to the map when
// quiet, refreshed to equal a fresh snapshot, exact under concurrent writers
// in other threads (equal to a watch's log replayed up to its revision, and
// keeping the writers' invariant), iterated exactly whatever writers do, and
// bad input.
import { describe, expect, test } from 'vitest'

import { ThreadMap, type Snapshot, type WatchEvent } from '../../lib/index'
import { exited, message, startWorker, STRATEGIES } from './helpers'

function asMap<K, V>(s: Iterable<[K, V]>): Map<K, V> {
  return new Map(s)
}

describe.each(STRATEGIES)('snapshot on %s', (strategy) => {
  test('equals the map; does not move; refresh applies only the changes', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values: 'any', strategy })
    for (let i = 0; i < 300; i++) map.set(`k${i}`, i % 3 === 0 ? { i } : i)
    const s = map.snapshot()
    expect(s.size).toBe(300)
    expect(s.revision).toBe(map.revision)
    expect(asMap(s)).toEqual(asMap(map))
    expect(s.get('k3')).toEqual({ i: 3 })
    expect(s.has('k1')).toBe(true)
    expect(s.get('nope')).toBeUndefined()
    const before = asMap(s)
    map.set('k1', 'changed')
    map.delete('k2')
    map.set('new', null)
    expect(s.get('k1')).toBe(1) // unchanged until refresh
    expect(s.has('new')).toBe(false)
    expect(asMap(s)).toEqual(before) // and so is what iteration shows
    s.refresh()
    expect(asMap(s)).toEqual(asMap(map))
    expect(s.revision).toBe(map.revision)
    const st = s.stats()
    expect(st.eventsApplied).toBe(3)
    expect(st.fullCopies).toBe(1)
    expect(st.refreshes).toBe(1)
    map.clear()
    map.set('after', 1)
    s.refresh()
    expect([...s.keys()]).toEqual(['after'])
    expect([...s.values()]).toEqual([1])
    const fresh = map.snapshot()
    expect(asMap(fresh)).toEqual(asMap(s))
    fresh.close()
    s.close()
    expect(() => s.get('after')).toThrow(/closed/)
    map.close()
  })

  test('under writers in two workers every snapshot is the logged writes up to its revision, and iterates exactly', async () => {
    const map = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    // The oracle: a watch opened on the empty map, before any write. Its
    // events replayed up to a revision R are the map at R, and a snapshot
    // of revision R must equal that replay: one that misses a write at or
    // below R, or holds one above it, differs. (The writers' own invariant
    // cannot see a cut in the wrong place: every prefix of the log keeps
    // it.) The buffer holds every event of the test, so the replay can wait
    // until the writers are done.
    const feed = map.watch({ bufferBytes: 256 << 20 })
    const handle = map.handle()
    const stop = new SharedArrayBuffer(4)
    const writers = [0, 1].map((id) => startWorker('snapshot-writer.mjs', { handle, id, stop }))
    const results = writers.map((w) => message<{ n: number }>(w, 'result'))
    const exits = writers.map((w) => exited(w))
    // What each snapshot showed, checked once the writers are done: checks
    // made here (expect per entry) would slow the cuts down while the
    // writers fill the watch's buffer.
    const taken: { revision: number; entries: Map<string, number>; size: number; twice: number; gets: number }[] = []
    const check = (s: Snapshot<string, number>): void => {
      // Iteration sees exactly the snapshot's entries, once each, whatever
      // the writers do meanwhile.
      const entries = new Map<string, number>()
      let twice = 0
      let gets = 0
      for (const [k, v] of s) {
        if (entries.has(k)) twice++
        entries.set(k, v)
      }
      for (const [k, v] of entries) if (s.get(k) === v) gets++
      taken.push({ revision: s.revision, entries, size: s.size, twice, gets })
    }
    // Wait until both writers have started writing.
    while ((map.get('b0') ?? 0) < 10 || (map.get('b1') ?? 0) < 10) await new Promise((r) => setTimeout(r, 5))
    const s = map.snapshot()
    check(s)
    let lastRevision = s.revision
    for (let i = 0; i < 20; i++) {
      // Until the writers wrote since the last cut, so every refresh
      // races them (on a loaded machine a turn of the loop may see none).
      do {
        await new Promise((r) => setImmediate(r))
      } while (map.revision === lastRevision)
      s.refresh()
      expect(s.revision).toBeGreaterThan(lastRevision)
      lastRevision = s.revision
      check(s)
      const fresh = map.snapshot()
      check(fresh)
      fresh.close()
    }
    Atomics.store(new Int32Array(stop), 0, 1)
    const ns = await Promise.all(results)
    for (const e of exits) expect(await e).toBe(0)
    s.refresh()
    expect(asMap(s)).toEqual(asMap(map))
    expect(s.get('b0')).toBe(ns[0]?.n)
    // The refreshes caught up by applying events or, where the writers
    // outran the buffer (a loaded machine), by copying again: either way
    // they did, not the first copy alone.
    const st = s.stats()
    expect(st.eventsApplied + (st.fullCopies - 1)).toBeGreaterThan(0)
    s.close()
    // The replay. A cut logs every event of a revision <= R before any
    // later one (snapshot.hpp), so the log up to its first event past R is
    // exactly the writes up to R; this last write is past every cut.
    map.set('end', 0)
    const model = new Map<string, number>()
    let ahead: WatchEvent<string, number> | undefined
    for (const { revision, entries, size, twice, gets } of taken) {
      expect(twice).toBe(0)
      expect(entries.size).toBe(size)
      expect(gets).toBe(size)
      for (const id of [0, 1]) {
        const a = entries.get(`a${id}`) ?? 0
        const b = entries.get(`b${id}`) ?? 0
        expect(a === b || a === b + 1).toBe(true)
      }
      for (;;) {
        const e = ahead ?? (await feed.next()).value
        if (e === undefined || e.revision > revision) {
          ahead = e
          break
        }
        ahead = undefined
        if (e.type === 'set') model.set(e.key as string, e.value as number)
        else if (e.type === 'clear') model.clear()
        else model.delete(e.key as string)
      }
      expect(ahead).toBeDefined()
      expect(entries).toEqual(model)
    }
    feed.close()
    map.close()
  })

  test('a refresh that falls behind the buffer copies again and says so', () => {
    const map = new ThreadMap<number, string>(null, { keys: 'number', values: 'string', strategy })
    const s = map.snapshot({ bufferBytes: 4096 })
    for (let i = 0; i < 200; i++) map.set(i, 'x'.repeat(100))
    s.refresh()
    expect(s.stats().fullCopies).toBe(2)
    expect(asMap(s)).toEqual(asMap(map))
    s.close()
    map.close()
  })
})

describe('snapshot: bad input and closed maps', () => {
  test('bad options and keys are TypeError or RangeError that change nothing', () => {
    const map = new ThreadMap<string, string>(null, { keys: 'string', values: 'string' })
    map.set('a', '1')
    const rev = map.revision
    expect(() => map.snapshot({ bufferBytes: 1 })).toThrow(RangeError)
    expect(() => map.snapshot({ bufferBytes: '1' as never })).toThrow(TypeError)
    expect(() => map.snapshot({ buffer: 1 } as never)).toThrow(TypeError)
    expect(() => map.snapshot(1 as never)).toThrow(TypeError)
    expect(map.revision).toBe(rev)
    const s = map.snapshot()
    expect(() => s.get(1 as never)).toThrow(TypeError)
    expect(() => s.has({} as never)).toThrow(TypeError)
    s.close()
    s.close() // again: nothing
    map.close()
  })

  test('refresh of a snapshot whose map was closed throws; the copy stays readable', () => {
    const map = new ThreadMap<string, string>(null, { keys: 'string', values: 'string' })
    map.set('a', '1')
    const s = map.snapshot()
    map.close()
    expect(() => s.refresh()).toThrow(/closed/)
    expect(s.get('a')).toBe('1')
    s.close()
    expect(() => map.snapshot()).toThrow(/closed/)
  })

  test('refresh during an iteration is an Error, not a mixed view', () => {
    const map = new ThreadMap<number, number>(null, { keys: 'number', values: 'number' })
    for (let i = 0; i < 5000; i++) map.set(i, i)
    const s = map.snapshot()
    const it = s.keys()
    it.next()
    map.set(-1, -1)
    s.refresh()
    expect(() => {
      for (const _ of it) void _
    }).toThrow(/refreshed during the iteration/)
    s.close()
    map.close()
  })
})
