// Adds 1 to keys from % 100 for from <= i < to through the io path (number
// keys), while the main thread does the same: each thread's io buffer is its
// own, so no add lands on a key another thread wrote into a shared buffer.
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const { handle, from, to } = workerData
const map = ThreadMap.attach(handle)
for (let i = from; i < to; i++) map.add(i % 100, 1)
parentPort.postMessage({ type: 'result', sum: to - from })
