// The atomic writes with their own ttl (setIfAbsent, getOrSet,
// compareAndSet, swap, add, update) from three workers at once on one
// shared map, under the map's test clock (addon.testAdvanceClock), which the
// main thread moves only between phases: inside a phase the clock stands
// still, so every deadline is exact and every count must add up. The map's
// own ttl (1,000) is far from the writes' (100), so a write whose ttl is
// lost on the way keeps its entry too long and the checks below see it.
//
// Two families of keys, by what README.md says the ttl means:
//   windowed  add (the counter's window: set by the add that creates it,
//             kept by later adds), setIfAbsent and getOrSet (a key that is
//             present changes nothing, its deadline included): the window
//             runs from the phase that created the key
//   stored    swap, compareAndSet, update: each store gives the value the
//             write's ttl, as set does
// Per phase: add counters from all workers sum exactly and their returned
// values are each count once; each setIfAbsent key has one winner per
// window and getOrSet one value; swaps lose and repeat nothing; the
// compareAndSet successes and the updates add up; getRemainingTTL, read in
// the workers, is exactly what is left of the window (never more than the
// ttl). Between phases the main thread checks which keys the clock has
// expired, and the next phase shows each family starting over or going on.
import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { addon } from '../../lib/native'
import { exited, message, startWorker, FLAT_TABLE_STRATEGIES } from './helpers'

const EXPIRING = FLAT_TABLE_STRATEGIES
const WORKERS = 3
const ROUNDS = 200
// Counters for add; keys for setIfAbsent, and as many for getOrSet.
const COUNTERS = 4
const SLOTS = 2 * COUNTERS
// The writes' ttl, and the map's: what a write whose ttl is lost gets.
const TTL = 100
const MAP_TTL = 10 * TTL

interface PhaseResult {
  adds: Record<string, number[]>
  won: Record<string, boolean>
  got: Record<string, number>
  swapped: (number | null)[]
  offered: number[]
  casWins: number
  remaining: Record<string, number>
}

// Before each phase the clock moves by `advance`; the windowed keys were
// made at `windowStart` (so `TTL - (now - windowStart)` is left of their
// window), and each family either starts over (its keys expired) or goes on.
const SCHEDULE = [
  { advance: 0, windowedRestart: true, storedRestart: true, windowLeft: TTL },
  // 60 into the window: everything goes on, the windows keep their deadline.
  { advance: 60, windowedRestart: false, storedRestart: false, windowLeft: TTL - 60 },
  // 100: the windows made at 0 are over; the stored values, written at 60,
  // have 60 to go.
  { advance: 40, windowedRestart: true, storedRestart: false, windowLeft: TTL },
  // 200: everything written at 100 has just expired.
  { advance: 100, windowedRestart: true, storedRestart: true, windowLeft: TTL },
] as const

const counterKeys = Array.from({ length: COUNTERS }, (_, k) => `c${k}`)
const slotKeys = Array.from({ length: SLOTS }, (_, k) => `s${k}`)
const getOrSetKeys = Array.from({ length: SLOTS }, (_, k) => `g${k}`)
const windowedKeys = [...counterKeys, ...slotKeys, ...getOrSetKeys]
const storedKeys = ['w', 'x', 'u']

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i)
const sorted = <T extends number | null>(xs: T[]): T[] => [...xs].sort((a, b) => (a ?? -1) - (b ?? -1))

describe.each(EXPIRING)('workers: atomic writes with a ttl on one map (%s)', (strategy) => {
  test('3 workers: counts sum within a window and restart after it, one setIfAbsent winner per window, exact remaining ttl', async () => {
    const map = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy, ttl: MAP_TTL })
    const clock = map.handle().id
    addon.testAdvanceClock(clock, 0) // stopped: it moves only below
    const workers = Array.from({ length: WORKERS }, (_, id) =>
      startWorker('atomics-ttl.mjs', { handle: map.handle(), id, rounds: ROUNDS, ttl: TTL, counters: COUNTERS, slots: SLOTS }),
    )
    const ends = workers.map((w) => exited(w))
    try {
      await Promise.all(workers.map((w) => message(w, 'started')))
      // What the last phase left, per key.
      const last = new Map<string, number>()
      const perCounter = (WORKERS * ROUNDS) / COUNTERS
      for (const [n, step] of SCHEDULE.entries()) {
        addon.testAdvanceClock(clock, step.advance)
        // Which keys the clock expired, seen from the main thread.
        for (const k of windowedKeys) expect([k, map.has(k)]).toEqual([k, n > 0 && !step.windowedRestart])
        for (const k of storedKeys) {
          const alive = n > 0 && !step.storedRestart
          expect([k, map.has(k)]).toEqual([k, alive])
          expect([k, map.getRemainingTTL(k)]).toEqual([k, alive ? TTL - step.advance : 0])
        }

        const replies = workers.map((w) => message<PhaseResult>(w, 'phase'))
        for (const w of workers) w.postMessage({ type: 'phase', phase: n })
        const results = await Promise.all(replies)

        // add: every count handed out once, from where the window stood.
        for (const k of counterKeys) {
          const base = step.windowedRestart ? 0 : (last.get(k) ?? NaN)
          expect(sorted(results.flatMap((r) => r.adds[k]))).toEqual(range(base + 1, perCounter))
          expect(map.get(k)).toBe(base + perCounter)
          last.set(k, base + perCounter)
        }
        // setIfAbsent: one winner per key per window, its value stored.
        for (const k of slotKeys) {
          const winners = results.flatMap((r, id) => (r.won[k] ? [id] : []))
          if (step.windowedRestart) {
            expect([k, winners.length]).toEqual([k, 1])
            last.set(k, winners[0])
          } else {
            expect([k, winners]).toEqual([k, []])
          }
          expect([k, map.get(k)]).toEqual([k, last.get(k)])
        }
        // getOrSet: every worker gets the one value stored in the window.
        for (const k of getOrSetKeys) {
          const values = new Set(results.map((r) => r.got[k]))
          expect([k, values.size]).toEqual([k, 1])
          const [v] = values
          if (step.windowedRestart) expect(range(1000 * n, WORKERS)).toContain(v)
          else expect(v).toBe(last.get(k))
          expect(map.get(k)).toBe(v)
          last.set(k, v)
        }
        // swap: each value swapped in comes out once (or is the last one
        // stored), and the one before the phase comes out once: a value
        // that expired comes out as nothing.
        const final = map.get('w') ?? null
        const before = step.storedRestart ? null : (last.get('w') ?? NaN)
        expect(sorted([...results.flatMap((r) => r.swapped), final])).toEqual(
          sorted([...results.flatMap((r) => r.offered), before]),
        )
        last.set('w', final ?? NaN)
        // compareAndSet and update: the successes add up from where the
        // value stood (nothing, once it expired).
        const x0 = step.storedRestart ? 0 : (last.get('x') ?? NaN)
        const wins = results.reduce((s, r) => s + r.casWins, 0)
        expect(wins).toBeGreaterThan(0)
        expect(map.get('x')).toBe(x0 + wins)
        last.set('x', x0 + wins)
        const u0 = step.storedRestart ? 0 : (last.get('u') ?? NaN)
        expect(map.get('u')).toBe(u0 + WORKERS * ROUNDS)
        last.set('u', u0 + WORKERS * ROUNDS)
        // getRemainingTTL in the workers: what is left of the window for the
        // windowed keys, the whole ttl for values stored at this instant.
        for (const r of results) {
          for (const k of windowedKeys) expect([k, r.remaining[k]]).toEqual([k, step.windowLeft])
          for (const k of storedKeys) expect([k, r.remaining[k]]).toEqual([k, TTL])
          for (const v of Object.values(r.remaining)) expect(v).toBeLessThanOrEqual(TTL)
        }
      }
      // Everything was written at 200 at the latest: all of it gone at 300.
      addon.testAdvanceClock(clock, TTL)
      for (const k of [...windowedKeys, ...storedKeys]) {
        expect([k, map.has(k), map.get(k), map.getRemainingTTL(k)]).toEqual([k, false, undefined, 0])
      }
    } finally {
      for (const w of workers) w.postMessage({ type: 'stop' })
      await Promise.all(ends)
      map.close()
    }
  })
})
