// Writes its own keys into a shared map made with revisions: false and
// reports that revisionOf is refused in this thread too.
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const { handle, id, rounds } = workerData
const map = ThreadMap.attach(handle)
let error = 'none'
try {
  map.revisionOf(`w${id}:0`)
} catch (e) {
  error = e.constructor.name
}
let wrote = 0
for (let i = 0; i < rounds; i++) {
  map.set(`w${id}:${i}`, { id, i })
  wrote++
}
parentPort.postMessage({ type: 'result', error, wrote, keeps: map.keepsRevisions })
