// Writes and reads a full cache shared with other workers. Only this worker
// writes keys `w<id>:*`, so a read of one of them must give undefined
// (evicted) or the last value this worker wrote there; any key's value must
// name its key. Reports its last writes and the violations it saw; with
// rounds 0 it runs until it is terminated.
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const { handle, id, rounds, keys, workers, bound } = workerData
const map = ThreadMap.attach(handle)
const last = new Map()
let bad = 0
let oversize = 0
let seed = id * 7919 + 1
const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648)
if (rounds === 0) parentPort.postMessage({ type: 'started' }) // runs until terminated
for (let i = 0; rounds === 0 || i < rounds; i++) {
  const r = next()
  if (r % 4 === 0) {
    const key = `w${id}:${r % keys}`
    const value = `${key}=${i}`
    map.set(key, value)
    last.set(key, value)
  } else {
    const owner = r % workers
    const key = `w${owner}:${(r >> 3) % keys}`
    const got = map.get(key)
    if (got !== undefined && !got.startsWith(`${key}=`)) bad++
    if (owner === id && got !== undefined && got !== last.get(key)) bad++
  }
  if (i % 64 === 0 && map.size > bound) oversize++
}
parentPort.postMessage({ type: 'result', id, bad, oversize, last: [...last] })
