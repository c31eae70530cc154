// Adds to shared counters: `rounds` times, round-robin over `counters` keys,
// with add() (one native atomic step) or update() (a compare-and-set loop).
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const { handle, rounds, counters, id, delta, how } = workerData
const map = ThreadMap.attach(handle)
const one = delta === 'bigint' ? 1n : 1
for (let i = 0; i < rounds; i++) {
  const key = `counter:${(i + id) % counters}`
  if (how === 'add') map.add(key, one)
  else map.update(key, (v) => (v === undefined ? one : v + one))
}
parentPort.postMessage({ type: 'result', id })
