// Ownership passed by compareAndSet is never held by two workers at once:
// the non-atomic read-modify-write done while holding it loses no update,
// and the head count inside is always exactly one.
import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { runWorker, STRATEGIES } from './helpers'

const WORKERS = 4

interface Report {
  violations: number
  acquired: number
}

describe.each(STRATEGIES)('workers: ownership by compareAndSet (%s)', (strategy) => {
  test.each([
    ['lock', 1500],
    ['token', 400],
  ] as const)('%s: never held twice', async (mode, rounds) => {
    const map = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    map.set('plain', 0)
    if (mode === 'token') map.set('owner', 0)
    const handle = map.handle()
    const reports = await Promise.all(
      Array.from({ length: WORKERS }, (_, id) => runWorker<Report>('ownership.mjs', { handle, rounds, id, workers: WORKERS, mode })),
    )
    expect(reports.map((r) => r.violations)).toEqual([0, 0, 0, 0])
    expect(reports.map((r) => r.acquired)).toEqual([rounds, rounds, rounds, rounds])
    expect(map.get('plain')).toBe(WORKERS * rounds)
    expect(map.get('inside')).toBe(0)
    if (mode === 'lock') expect(map.has('lock')).toBe(false)
    else expect(map.get('owner')).toBe(WORKERS * rounds) // passed once per acquisition
    map.close()
  })
})
