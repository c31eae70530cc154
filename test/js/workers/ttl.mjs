// Reads a map with a ttl that the main thread shares, whenever it is asked:
// the main thread moves the map's test clock between the asks, so the
// answers show whether this thread sees the same expiry.
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const map = ThreadMap.attach(workerData.handle)
parentPort.on('message', (msg) => {
  if (msg.type === 'stop') {
    parentPort.close()
    return
  }
  const keys = msg.keys
  parentPort.postMessage({
    type: 'answer',
    get: keys.map((k) => map.get(k) ?? null),
    has: keys.map((k) => map.has(k)),
    remaining: keys.map((k) => map.getRemainingTTL(k)),
    entries: [...map.keys()].sort(),
  })
})
parentPort.postMessage({ type: 'started' })
