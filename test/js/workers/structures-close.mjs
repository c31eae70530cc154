// Writes and reads objects of ever new shapes (each one appends to the map's
// structure list, until msgpackr's 32 shared ones are taken) until a call
// fails; reports that failure's message and how many writes preceded it. The
// main thread closes the map meanwhile.
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const { handle, id } = workerData
const map = ThreadMap.attach(handle)
let message = null
let writes = 0
for (let i = 0; message === null && i < 1_000_000; i++) {
  try {
    map.set(`w${id}:${i % 64}`, { [`w${id}_${i % 40}`]: i, nested: { [`n${i % 7}`]: [i] } })
    map.get(`w${(id + 1) % 2}:${i % 64}`)
    // Closing waits until both workers are writing.
    if (++writes === 20) parentPort.postMessage({ type: 'ready' })
  } catch (err) {
    message = `${err.name}: ${err.message}`
  }
}
parentPort.postMessage({ type: 'result', id, message, writes })
