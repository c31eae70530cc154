// Writes `count` values `${id}:${i}` to keys k0..k15 shared with the other writers.
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const { handle, id, count } = workerData
const map = ThreadMap.attach(handle)
for (let i = 0; i < count; i++) map.set(`k${(i * 7 + id) % 16}`, `${id}:${i}`)
parentPort.postMessage({ type: 'result', done: count })
