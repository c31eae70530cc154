// 1,000 maps created, shared and dropped across workers: once nothing can
// reach them (GC in every thread, or the thread ending), the native registry
// is back to its starting count.
import type { Worker } from 'node:worker_threads'

import { expect, test } from 'vitest'

import { liveMaps, ThreadMap, type ThreadMapHandle } from '../../lib/index'
import { collect, exited, message, startWorker } from './helpers'

const BATCH = 50

// Each batch runs in its own function, so no suspended async frame of the
// test keeps the last batch's maps reachable.
async function shareFromMain(worker: Worker): Promise<number> {
  const maps = Array.from({ length: BATCH }, () => {
    const m = new ThreadMap<string, string>(null, { keys: 'string', values: 'string' })
    m.set('from', 'main')
    return m
  })
  const reply = message<{ ok: number }>(worker, 'attached')
  worker.postMessage({ type: 'attach', handles: maps.map((m) => m.handle()) })
  expect((await reply).ok).toBe(BATCH)
  for (const m of maps) expect(m.get('seen')).toBe('worker')
  return maps.length
}

async function shareFromWorker(worker: Worker): Promise<number> {
  const reply = message<{ handles: ThreadMapHandle[] }>(worker, 'created')
  worker.postMessage({ type: 'create', count: BATCH })
  const { handles } = await reply
  for (const h of handles) expect(ThreadMap.attach<string, string>(h).get('from')).toBe('worker')
  const acked = message(worker, 'acked')
  worker.postMessage({ type: 'ack' })
  await acked
  return handles.length
}

test('1,000 maps created, shared and dropped across workers return liveMaps() to its start', async () => {
  await collect()
  const baseline = liveMaps()
  const a = startWorker('lifetime.mjs')
  const b = startWorker('lifetime.mjs')
  const aExit = exited(a)
  const bExit = exited(b)
  let created = 0

  // 400 made here, shared with a worker, dropped by both.
  for (let round = 0; round < 8; round++) created += await shareFromMain(round % 2 === 0 ? a : b)
  // 400 made in the workers, attached here, dropped by both.
  for (let round = 0; round < 8; round++) created += await shareFromWorker(round % 2 === 0 ? a : b)

  // 200 held by a worker until it ends: its environment cleanup frees them.
  const holding = message<{ count: number }>(b, 'holding')
  b.postMessage({ type: 'hold', count: 200 })
  expect((await holding).count).toBe(200)
  created += 200
  expect(created).toBe(1000)
  expect(liveMaps()).toBeGreaterThan(baseline)

  await b.terminate()
  expect(await bExit).toBe(1)

  const gcEverywhere = async (): Promise<void> => {
    const done = message(a, 'collected')
    a.postMessage({ type: 'gc' })
    await done
    await collect(2)
  }
  let attempts = 0
  while (liveMaps() !== baseline && attempts++ < 30) await gcEverywhere()
  expect(liveMaps()).toBe(baseline)

  await a.terminate()
  await aExit
})
