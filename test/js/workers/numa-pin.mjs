// Pins this worker's thread to workerData.cpu and reports what currentCpu()
// says afterwards (sampled over a few event-loop turns, so a migration would
// show); with a handle, also grows that map from the pinned thread. A
// `bad` pin set is tried first and must leave the affinity unchanged.
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap, numa } from '../../../esm/index.mjs'

const { cpu, handle, keys, bad } = workerData
let badError = null
let afterBad = null
if (bad !== undefined) {
  try {
    numa.pinThread(bad)
  } catch (err) {
    badError = { name: err.name, message: err.message }
  }
  // Re-pinning to the same set returns the set in force: unchanged by the bad call.
  const now = numa.pinThread(cpu)
  afterBad = numa.pinThread(now)
}
const before = numa.pinThread(cpu)
const cpus = []
for (let i = 0; i < 200; i++) {
  cpus.push(numa.currentCpu())
  if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 1))
}
if (handle) {
  const map = ThreadMap.attach(handle)
  for (let i = 0; i < keys; i++) map.set(`pinned:${cpu}:${i}`, i)
}
parentPort.postMessage({ type: 'result', before, cpus, node: numa.currentNode(), badError, afterBad })
