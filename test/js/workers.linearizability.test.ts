// Histories recorded in worker threads through the public API, checked with
// the linearizability checker the native suite uses (test/support/lincheck.hpp,
// reached through the lab addon, native/lab). A check-then-act setIfAbsent must be caught, so the
// check is known to be able to fail from here too.
import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { type LincheckOperation, loadLab } from '../../native/lab'
import { runWorker, STRATEGIES } from './helpers'

const lab = loadLab()

const WORKERS = 3

async function record(
  strategy: string,
  histories: number,
  broken: boolean,
  readCache = 0,
): Promise<LincheckOperation[] & { hits?: number }> {
  const map = new ThreadMap<string, bigint>(null, {
    keys: 'string',
    values: 'bigint',
    strategy: strategy as never,
    readCache,
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
  map.close()
  return Object.assign(
    logs.flatMap((r) => r.log),
    { hits: logs.reduce((n, r) => n + r.hits, 0) },
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
