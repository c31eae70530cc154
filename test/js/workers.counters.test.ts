// Four workers adding to shared counters give exact totals: add() is one
// native atomic step; update() is a compare-and-set loop in TypeScript.
import { describe, expect, test } from 'vitest'

import { ThreadMap, type ValueTypeName } from '../../lib/index'
import { runWorker, STRATEGIES } from './helpers'

const WORKERS = 4
const COUNTERS = 8

describe.each(STRATEGIES)('workers: shared counters (%s)', (strategy) => {
  test.each([
    ['number', 'number', 'add', 40_000],
    ['bigint', 'bigint', 'add', 40_000],
    ['any', 'number', 'add', 20_000],
    ['any', 'bigint', 'add', 20_000],
    ['number', 'number', 'update', 5_000],
  ] as const)('values %s, %s deltas, %s: exact totals', async (values, delta, how, rounds) => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values: values as ValueTypeName, strategy })
    const handle = map.handle()
    await Promise.all(
      Array.from({ length: WORKERS }, (_, id) => runWorker('counters.mjs', { handle, rounds, counters: COUNTERS, id, delta, how })),
    )
    const each = (WORKERS * rounds) / COUNTERS
    for (let c = 0; c < COUNTERS; c++) {
      expect(map.get(`counter:${c}`)).toBe(delta === 'bigint' ? BigInt(each) : each)
    }
    expect(map.size).toBe(COUNTERS)
    map.close()
  })
})
