// Several workers write and read one full cache (maxEntries) at once: no
// read sees a value its key never had or an acknowledged write undone other
// than by eviction, the size stays within the bound, and nothing crashes.
import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { EVICTION_NAMES } from '../../lib/native'
import { exited, message, runWorker, startWorker, FLAT_TABLE_STRATEGIES } from './helpers'

describe('workers on a full cache', () => {
  for (const strategy of FLAT_TABLE_STRATEGIES) {
    for (const evict of EVICTION_NAMES) {
      test(`${strategy} / ${evict}`, async () => {
        const bound = 200
        const workers = 3
        const m = new ThreadMap<string, string>(null, { keys: 'string', values: 'string', strategy, evict, maxEntries: bound })
        const results = await Promise.all(
          Array.from({ length: workers }, (_, id) =>
            runWorker<{ bad: number; oversize: number; last: [string, string][] }>('cache.mjs', {
              handle: m.handle(),
              id,
              rounds: 20000,
              keys: 150,
              workers,
              bound,
            }),
          ),
        )
        for (const r of results) {
          expect(r.bad).toBe(0)
          expect(r.oversize).toBe(0)
        }
        expect(m.size).toBeLessThanOrEqual(bound)
        // What is left is each key's last acknowledged write, or nothing.
        const last = new Map(results.flatMap((r) => r.last))
        let present = 0
        for (const [k, v] of m.entries()) {
          expect(last.get(k)).toBe(v)
          present++
        }
        expect(present).toBe(m.size)
        const st = m.stats()
        expect(st.evictions).toBeGreaterThanOrEqual(last.size - m.size)
        expect(st.hits + st.misses).toBeGreaterThan(0)
        m.close()
      }, 60_000)
    }
  }
})

test('worker.terminate() in the middle of evictions leaves a consistent cache', async () => {
  for (const evict of EVICTION_NAMES) {
    const bound = 100
    const m = new ThreadMap<string, string>(null, { keys: 'string', values: 'string', evict, maxEntries: bound })
    const ws = Array.from({ length: 2 }, (_, id) =>
      startWorker('cache.mjs', { handle: m.handle(), id, rounds: 0, keys: 500, workers: 2, bound }),
    )
    await Promise.all(ws.map((w) => message(w, 'started')))
    await new Promise((resolve) => setTimeout(resolve, 100))
    await Promise.all(ws.map(async (w) => {
      const done = exited(w)
      await w.terminate()
      await done
    }))
    expect(m.size).toBeLessThanOrEqual(bound)
    for (const [k, v] of m.entries()) expect(v.startsWith(`${k}=`)).toBe(true)
    // Still usable: every new key evicts, and stays readable.
    for (let i = 0; i < 300; i++) {
      m.set(`after:${i}`, `after:${i}=x`)
      expect(m.get(`after:${i}`)).toBe(`after:${i}=x`)
    }
    expect(m.size).toBeLessThanOrEqual(bound)
    expect(m.stats().evictions).toBeGreaterThan(0)
    m.close()
  }
}, 60_000)
