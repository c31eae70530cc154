// Sets objects into a shared map until terminated (workers.terminate.test.ts),
// acknowledging each set once it has returned. With `fresh`: sets `count`
// objects under fresh: keys, then reads every entry of the map and reports
// how many it saw and those that are not a value some worker wrote there.
import { isDeepStrictEqual } from 'node:util'
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

import { objectKey, objectValue } from './terminate-objects-values.mjs'

const { handle, id, fresh, count } = workerData
const map = ThreadMap.attach(handle)
if (fresh) {
  for (let i = 0; i < count; i++) map.set(`fresh:${i}`, objectValue(id, i))
  let seen = 0
  const bad = []
  for (const [key, v] of map) {
    seen++
    const written = typeof v === 'object' && v !== null && typeof v.w === 'number' && typeof v.i === 'number'
    const expected = written ? objectValue(v.w, v.i) : undefined
    if (!written || !isDeepStrictEqual(v, expected)) bad.push(key)
  }
  parentPort.postMessage({ type: 'result', seen, bad: bad.slice(0, 5), badCount: bad.length })
} else {
  for (let i = 0; ; i++) {
    map.set(objectKey(id, i), objectValue(id, i))
    parentPort.postMessage({ type: 'ack', i })
  }
}
