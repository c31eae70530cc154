// Iteration under concurrent writes: every key present for the whole
// iteration is seen exactly once, no key is seen twice, nothing crashes.
import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { exited, message, startWorker, STRATEGIES } from './helpers'

const STABLE = 3000
const WRITERS = 2
const ITERATIONS = 25

describe.each(STRATEGIES)('workers: iteration under concurrent writes (%s)', (strategy) => {
  test('stable keys are seen exactly once per iteration', async () => {
    const map = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    for (let i = 0; i < STABLE; i++) map.set(`stable:${i}`, -1)
    const handle = map.handle()
    const workers = Array.from({ length: WRITERS }, (_, id) => startWorker('churn.mjs', { handle, id, stable: STABLE }))
    const results = workers.map((w) => message<{ writes: number }>(w, 'result'))
    const exits = workers.map(exited)
    await Promise.all(workers.map((w) => message(w, 'ready')))

    let volatileSeen = 0
    for (let it = 0; it < ITERATIONS; it++) {
      const seen = new Set<string>()
      let stable = 0
      for (const [key, value] of ITERATIONS % 2 === 0 && it % 2 === 0 ? map.entries() : map) {
        expect(seen.has(key)).toBe(false)
        seen.add(key)
        if (key.startsWith('stable:')) {
          stable++
          expect(typeof value).toBe('number')
        } else volatileSeen++
      }
      expect(stable).toBe(STABLE)
      // keys() and forEach see the stable keys exactly once too.
      if (it % 5 === 0) {
        const keys = [...map.keys()].filter((k) => k.startsWith('stable:'))
        expect(new Set(keys).size).toBe(STABLE)
        expect(keys.length).toBe(STABLE)
        let count = 0
        map.forEach((_v, k) => {
          if (k.startsWith('stable:')) count++
        })
        expect(count).toBe(STABLE)
      }
    }
    map.set('stop', 1)
    const writes = await Promise.all(results)
    expect(await Promise.all(exits)).toEqual([0, 0])
    // The writers did run during the iterations.
    for (const w of writes) expect(w.writes).toBeGreaterThan(0)
    expect(volatileSeen).toBeGreaterThanOrEqual(0)
    map.close()
  })
})
