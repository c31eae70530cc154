// Sets objects of many sizes into one shared map (workers.objects-in.test.ts):
// enough output to fill several of the record writer's 64 KiB chunks, so
// set's bytes are read from a chunk at every kind of offset, and after each
// chunk is replaced. Reports the keys whose value read back differed.
import { parentPort, workerData } from 'node:worker_threads'
import { isDeepStrictEqual } from 'node:util'

import { ThreadMap } from '../../../esm/index.mjs'

import { sizedObject } from './objects-in-values.mjs'

const { handle, id, count } = workerData
const map = ThreadMap.attach(handle)
const wrong = []
for (let i = 0; i < count; i++) {
  const x = sizedObject(id, i)
  map.set(`w${id}:${i}`, x)
  if (!isDeepStrictEqual(map.get(`w${id}:${i}`), x)) wrong.push(`w${id}:${i}`)
}
parentPort.postMessage({ type: 'result', id, wrong: wrong.slice(0, 5), wrongCount: wrong.length })
