// Writes a${id} = n, filler keys, then b${id} = n, for n = 1, 2, ... until
// the shared flag is set, so every state of the map has a${id} == b${id} or
// a${id} == b${id} + 1. Reports how far it got.
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const { handle, id, stop } = workerData
const map = ThreadMap.attach(handle)
const flag = new Int32Array(stop)
let n = 0
while (Atomics.load(flag, 0) === 0) {
  n++
  map.set(`a${id}`, n)
  map.set(`fill${id}:${n % 500}`, n)
  if (n % 7 === 0) map.delete(`fill${id}:${(n + 250) % 500}`)
  map.set(`b${id}`, n)
}
parentPort.postMessage({ type: 'result', n })
