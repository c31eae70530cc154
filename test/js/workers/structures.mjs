// Writes objects of shapes only this worker makes, all workers starting at
// once (a barrier on shared memory), then reads every worker's objects back.
// Reports the keys whose value differed from what its writer stored.
import { parentPort, workerData } from 'node:worker_threads'
import { isDeepStrictEqual } from 'node:util'

import { ThreadMap } from '../../../esm/index.mjs'

import { objectOf } from './structures-shapes.mjs'

const { handle, id, workers, perWorker, barrier } = workerData
const map = ThreadMap.attach(handle)
const gate = new Int32Array(barrier)

function arrive(slot) {
  Atomics.add(gate, slot, 1)
  Atomics.notify(gate, slot)
  while (Atomics.load(gate, slot) < workers) Atomics.wait(gate, slot, Atomics.load(gate, slot), 50)
}

arrive(0)
for (let i = 0; i < perWorker; i++) map.set(`w${id}:${i}`, objectOf(id, i))
arrive(1)
const wrong = []
for (let w = 0; w < workers; w++) {
  for (let i = 0; i < perWorker; i++) {
    const got = map.get(`w${w}:${i}`)
    if (!isDeepStrictEqual(got, objectOf(w, i))) wrong.push(`w${w}:${i}`)
  }
}
parentPort.postMessage({ type: 'result', id, wrong: wrong.slice(0, 5), wrongCount: wrong.length })
