// Histories recorded in worker threads through the public API, checked with
// the linearizability checker the native suite uses (test/support/lincheck.hpp,
// reached through the lab addon, native/lab). A check-then-act setIfAbsent must be caught, so the
// check is known to be able to fail from here too. Maps that evict are
// checked as caches (lincheck.hpp, "Caches"): an eviction is a silent delete,
// and the history may need no more of them than the map counted.
import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { addon, EVICTION_NAMES } from '../../lib/native'
import { type LincheckOperation, loadLab } from '../../native/lab'
import { runWorker, STRATEGIES, FLAT_TABLE_STRATEGIES } from './helpers'

const lab = loadLab()

const WORKERS = 3

const EVICTING = FLAT_TABLE_STRATEGIES

interface Cache {
  maxEntries: number
  evict: (typeof EVICTION_NAMES)[number]
}

async function record(
  strategy: string,
  histories: number,
  broken: boolean,
  readCache = 0,
  cache?: Cache,
): Promise<LincheckOperation[] & { hits?: number; evictions?: number }> {
  const map = new ThreadMap<string, bigint>(null, {
    keys: 'string',
    values: 'bigint',
    strategy: strategy as never,
    readCache,
    ...cache,
  })
  const sab = new SharedArrayBuffer(12)
  const logs = await Promise.all(
    Array.from({ length: WORKERS }, (_, id) =>
      runWorker<{ log: LincheckOperation[]; hits: number }>('lincheck.mjs', {
        handle: map.handle(),
        id,
        workers: WORKERS,
        histories,
        ops: 6,
        sab,
        broken,
      }),
    ),
  )
  const { evictions } = map.stats()
  map.close()
  return Object.assign(
    logs.flatMap((r) => r.log),
    { hits: logs.reduce((n, r) => n + r.hits, 0), evictions },
  )
}

describe.each(STRATEGIES)('workers: linearizability (%s)', (strategy) => {
  test('histories recorded in 3 workers are linearizable', async () => {
    const history = await record(strategy, 400, false)
    expect(history.length).toBe(400 * WORKERS * 6)
    expect(lab.checkLinearizable(history)).toEqual({ linearizable: true })
  })

  // Each worker's gets go through its own read cache (the handle carries
  // the option), so a get that returned a cached value must still be one a
  // linearizable map could return.
  test('histories recorded in 3 workers with the read cache on are linearizable', async () => {
    const history = await record(strategy, 400, false, 4)
    expect(history.length).toBe(400 * WORKERS * 6)
    expect(history.hits).toBeGreaterThan(0) // some gets were answered from a cache
    expect(lab.checkLinearizable(history)).toEqual({ linearizable: true })
  })
})

// One entry for the two keys each history's workers contend on: nearly
// every insert evicts, so gets miss keys that were set, and the checker must
// need evictions to explain the history (evictions > 0) and no more than the
// map counted.
describe.each(EVICTING.flatMap((s) => EVICTION_NAMES.map((e) => [s, e] as const)))(
  'workers: linearizability of a cache (%s, %s)',
  (strategy, evict) => {
    test('histories recorded in 3 workers are linearizable with evictions as deletes', async () => {
      const history = await record(strategy, 400, false, 0, { maxEntries: 1, evict })
      expect(history.length).toBe(400 * WORKERS * 6)
      expect(history.evictions).toBeGreaterThan(0)
      const verdict = lab.checkLinearizable(history, { evictions: history.evictions })
      expect(verdict.linearizable).toBe(true)
      expect(verdict.evictions).toBeGreaterThan(0)
      expect(verdict.evictions).toBeLessThanOrEqual(history.evictions ?? 0)
      // As a plain map's the same history is not linearizable: its misses
      // are evictions.
      expect(lab.checkLinearizable(history).linearizable).toBe(false)
    })
  },
)

// The lost update of the check-then-act setIfAbsent needs two evictions a
// history (three workers answer `inserted`); a one-entry cache evicts about
// one a history (each history's key evicts the last one's), so the checker
// still catches it, as it does in a cache with room for every key.
test.each([1, 4096])('the checker rejects a check-then-act setIfAbsent in a cache of %i entries', async (maxEntries) => {
  const history = await record('mutex', 400, true, 0, { maxEntries, evict: 'wtinylfu' })
  if (maxEntries > 400) expect(history.evictions).toBe(0)
  const verdict = lab.checkLinearizable(history, { evictions: history.evictions })
  expect(verdict.linearizable).toBe(false)
  expect(verdict.key).toMatch(/^\d+:0$/)
})

test('checkLinearizable refuses an eviction count that is not a non-negative integer', () => {
  for (const evictions of [-1, 1.5, Number.NaN, '3' as unknown as number]) {
    expect(() => lab.checkLinearizable([], { evictions })).toThrow(RangeError)
  }
  expect(lab.checkLinearizable([], { evictions: 0 })).toEqual({ linearizable: true, evictions: 0 })
})

test('the checker rejects a check-then-act setIfAbsent recorded in workers', async () => {
  const history = await record('mutex', 400, true)
  const verdict = lab.checkLinearizable(history)
  expect(verdict.linearizable).toBe(false)
  expect(verdict.key).toMatch(/^\d+:[01]$/)
})

test('the checker rejects a hand-made impossible history and accepts its fix', () => {
  const stale: LincheckOperation[] = [
    { kind: 'put', key: 'k', value: 1n, result: 'inserted', invoked: 0, responded: 1 },
    { kind: 'get', key: 'k', result: 'not_found', invoked: 2, responded: 3 },
  ]
  expect(lab.checkLinearizable(stale)).toEqual({ linearizable: false, key: 'k' })
  stale[1] = { kind: 'get', key: 'k', result: 'ok', out: 1n, invoked: 2, responded: 3 }
  expect(lab.checkLinearizable(stale)).toEqual({ linearizable: true })
})

// Issue 15's stress: eviction, expiry and fetch at once. Three workers record
// histories on a cache that also expires, one operation in seven moving the
// map's test clock by 1 ms (recorded too), and a fourth worker fetches other
// keys meanwhile. The history, moves included, is checked against the model
// of a map with that ttl (lincheck.hpp, "Expiry": an expired entry reads as
// absent, a live one as present), with evictions as silent deletes and no
// more of them than the map counted (expirations are not among them); every
// fetch must get its loader's value.
const TTL = 3
describe.each(EVICTING.flatMap((s) => EVICTION_NAMES.map((e) => [s, e] as const)))(
  'workers: eviction, expiry and fetch at once (%s, %s)',
  (strategy, evict) => {
    test('histories stay linearizable against the expiring model, with evictions as deletes', async () => {
      const map = new ThreadMap<string, unknown>(null, {
        keys: 'string',
        values: 'any',
        strategy,
        evict,
        maxEntries: 64,
        ttl: TTL,
      })
      const id = map.handle().id
      addon.testAdvanceClock(id, 0)
      const sab = new SharedArrayBuffer(12)
      const fetchKeys = Array.from({ length: 200 }, (_, i) => `f:${i}`)
      try {
        const [fetched, ...logs] = await Promise.all([
          runWorker<{ results: { key: string; value?: unknown; error?: unknown }[] }>('fetch.mjs', {
            handle: map.handle(),
            keys: fetchKeys,
            mode: 'slow',
            // Stored with no deadline: 200 values that never expire in a
            // 64-entry cache must be evicted, however far the clock moves
            // (with the map's ttl, expirations could make all the room).
            ttl: 0,
          }),
          ...Array.from({ length: WORKERS }, (_, wid) =>
            runWorker<{ log: LincheckOperation[]; hits: number }>('lincheck.mjs', {
              handle: map.handle(),
              id: wid,
              workers: WORKERS,
              histories: 400,
              ops: 6,
              sab,
              broken: false,
              clockId: id,
            }),
          ),
        ])
        for (const r of fetched?.results ?? []) expect(r).toEqual({ key: r.key, value: `value:${r.key}` })
        expect(fetched?.results.length).toBe(fetchKeys.length)
        const { evictions, expirations } = map.stats()
        expect(evictions).toBeGreaterThan(0)
        expect(expirations).toBeGreaterThan(0) // the clock moved while they ran
        const history = logs.flatMap((r) => r.log)
        expect(history.length).toBe(400 * WORKERS * 6)
        expect(history.filter((o) => o.kind === 'advance').length).toBeGreaterThan(0)
        const verdict = lab.checkLinearizable(history, { evictions, ttl: TTL })
        expect(verdict).toMatchObject({ linearizable: true })
        expect(verdict.tooLong).toBeUndefined()
        // Expiry is in the model, not among the deletes: checked as a plain
        // cache's, with expirations counted as deletes, the same history
        // needs many more silent deletes to explain its misses.
        const plain = lab.checkLinearizable(history, { evictions: evictions + expirations })
        expect(plain.linearizable).toBe(true)
        expect(plain.evictions).toBeGreaterThan(verdict.evictions ?? 0)
      } finally {
        map.close()
      }
    })
  },
)

// The expiring model can fail: hand-made histories on one key of a map with
// a ttl of 3 ms, the clock moved by `advance` operations.
describe('the checker with a ttl', () => {
  const put = (invoked: number, responded: number): LincheckOperation => ({
    kind: 'put',
    key: 'k',
    value: 1n,
    result: 'inserted',
    invoked,
    responded,
  })
  const advance = (ms: number, invoked: number, responded: number): LincheckOperation => ({
    kind: 'advance',
    key: '',
    delta: BigInt(ms),
    result: 'ok',
    invoked,
    responded,
  })
  const got = (invoked: number, responded: number): LincheckOperation => ({
    kind: 'get',
    key: 'k',
    result: 'ok',
    out: 1n,
    invoked,
    responded,
  })
  const missed = (invoked: number, responded: number): LincheckOperation => ({
    kind: 'get',
    key: 'k',
    result: 'not_found',
    invoked,
    responded,
  })

  test('an entry read after its ttl passed is rejected; read before, accepted', () => {
    const after = [put(0, 1), advance(3, 2, 3), got(4, 5)]
    expect(lab.checkLinearizable(after, { ttl: 3 })).toEqual({ linearizable: false, key: 'k' })
    expect(lab.checkLinearizable(after)).toEqual({ linearizable: true }) // no ttl: advances mean nothing
    expect(lab.checkLinearizable([put(0, 1), advance(2, 2, 3), got(4, 5)], { ttl: 3 })).toEqual({
      linearizable: true,
    })
    expect(lab.checkLinearizable([put(0, 1), advance(3, 2, 3), missed(4, 5)], { ttl: 3 })).toEqual({
      linearizable: true,
    })
  })

  test('a live entry that reads as absent needs an eviction', () => {
    const lost = [put(0, 1), advance(2, 2, 3), missed(4, 5)]
    expect(lab.checkLinearizable(lost, { ttl: 3 })).toEqual({ linearizable: false, key: 'k' })
    expect(lab.checkLinearizable(lost, { ttl: 3, evictions: 0 })).toMatchObject({ linearizable: false })
    expect(lab.checkLinearizable(lost, { ttl: 3, evictions: 1 })).toEqual({ linearizable: true, evictions: 1 })
  })

  test('an operation concurrent with a move may read the clock before or after it', () => {
    // The get overlaps the move that expires the entry: either answer is right.
    expect(lab.checkLinearizable([put(0, 1), advance(3, 2, 5), got(3, 6)], { ttl: 3 })).toEqual({
      linearizable: true,
    })
    expect(lab.checkLinearizable([put(0, 1), advance(3, 2, 5), missed(3, 6)], { ttl: 3 })).toEqual({
      linearizable: true,
    })
    // A put overlapping a 1 ms move may have read the clock before it, so its
    // entry may already be gone 2 ms after the move; one that began after
    // the move may not.
    const early = [advance(1, 0, 3), put(1, 4), advance(2, 5, 6), missed(7, 8)]
    expect(lab.checkLinearizable(early, { ttl: 3 })).toEqual({ linearizable: true })
    const late = [advance(1, 0, 1), put(2, 4), advance(2, 5, 6), missed(7, 8)]
    expect(lab.checkLinearizable(late, { ttl: 3 })).toEqual({ linearizable: false, key: 'k' })
  })

  test('ttl must be a non-negative integer', () => {
    for (const ttl of [-1, 1.5, Number.NaN]) expect(() => lab.checkLinearizable([], { ttl })).toThrow(RangeError)
  })
})
