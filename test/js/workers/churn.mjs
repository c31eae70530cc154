// Concurrent writers for the iteration test: inserts and deletes volatile
// keys and rewrites the values of the stable ones, until 'stop' is set.
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const { handle, id, stable } = workerData
const map = ThreadMap.attach(handle)
let i = 0
parentPort.postMessage({ type: 'ready' })
while (map.get('stop') === undefined) {
  for (let j = 0; j < 64; j++, i++) {
    const v = `volatile:${id}:${i % 4096}`
    if (i % 3 === 2) map.delete(v)
    else map.set(v, i)
    map.set(`stable:${(i * 7 + id) % stable}`, i) // present throughout, value changes
  }
}
parentPort.postMessage({ type: 'result', writes: i })
