// Writes its own keys of a shared map and reads each write's revision back
// (no other worker writes these keys, so revisionOf after a set is that set's
// revision); a worker's own writes follow one another in real time, so their
// revisions must increase.
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const { handle, rounds, id } = workerData
const map = ThreadMap.attach(handle)
const revisions = []
let ordered = true
let last = 0
for (let i = 0; i < rounds; i++) {
  // Every fifth write deletes the key the write before set.
  const key = `w${id}:${(i % 5 === 4 ? i - 1 : i) % 16}`
  if (i % 5 === 4) {
    if (!map.delete(key)) ordered = false
  } else map.set(key, i)
  const r = i % 5 === 4 ? map.revision : map.revisionOf(key)
  if (!(r > last)) ordered = false
  last = r
  if (i % 5 !== 4) revisions.push(r)
}
parentPort.postMessage({ type: 'result', id, revisions, ordered, seen: map.revision })
