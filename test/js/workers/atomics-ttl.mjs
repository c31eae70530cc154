// Runs the atomic writes with their own ttl on a map the main thread
// shares, one phase each time it is asked: the main thread moves the map's
// test clock only between phases (workers.atomics-ttl.test.ts), so inside a
// phase every write sees the same time and the deadlines are exact. Reports
// what each call returned and what getRemainingTTL said just after.
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const { handle, id, rounds, ttl, counters, slots } = workerData
const map = ThreadMap.attach(handle)
const opts = { ttl }

function phase(n) {
  const adds = Object.fromEntries(Array.from({ length: counters }, (_, k) => [`c${k}`, []]))
  const won = {}
  const got = {}
  const swapped = []
  const offered = []
  let casWins = 0
  // Interleaved, so the workers' writes of each kind overlap.
  for (let i = 0; i < rounds; i++) {
    const c = `c${i % counters}`
    adds[c].push(map.add(c, 1, opts))
    if (i < slots) {
      won[`s${i}`] = map.setIfAbsent(`s${i}`, id, opts)
      got[`g${i}`] = map.getOrSet(`g${i}`, 1000 * n + id, opts)
    }
    const mine = 1_000_000 * n + 1000 * id + i + 1
    offered.push(mine)
    swapped.push(map.swap('w', mine, opts) ?? null)
    const v = map.get('x')
    if (map.compareAndSet('x', v, (v ?? 0) + 1, opts)) casWins++
    map.update('u', (u) => (u ?? 0) + 1, opts)
  }
  const keys = [...Object.keys(adds), ...Object.keys(won), ...Object.keys(got), 'w', 'x', 'u']
  const remaining = Object.fromEntries(keys.map((k) => [k, map.getRemainingTTL(k)]))
  return { adds, won, got, swapped, offered, casWins, remaining }
}

parentPort.on('message', (msg) => {
  if (msg.type === 'stop') {
    parentPort.close()
    return
  }
  parentPort.postMessage({ type: 'phase', ...phase(msg.phase) })
})
parentPort.postMessage({ type: 'started' })
