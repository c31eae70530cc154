// Attaches an ordered map by its handle and reads ranges in this thread:
// the key order travels with the map, not with the handle's thread.
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const map = ThreadMap.attach(workerData.handle)
parentPort.postMessage({
  type: 'result',
  strategy: map.strategy,
  keys: [...map.keys({ gt: -2n, lte: 2n ** 64n })],
  reverse: [...map.keys({ reverse: true, limit: 2 })],
  first: map.first(),
  last: map.last(),
})
