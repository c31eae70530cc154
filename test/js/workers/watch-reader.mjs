// Watches a shared map until it has seen `total` events (or is compacted),
// checking per-key order as it goes; reports what it saw.
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const { handle, total, bufferBytes, wait } = workerData
const map = ThreadMap.attach(handle)
const w = map.watch({ ref: true, bufferBytes })
parentPort.postMessage({ type: 'ready', start: w.startRevision })
if (wait) await new Promise((resolve) => parentPort.once('message', resolve))
const lastRev = new Map()
const lastSeq = new Map()
let seen = 0
let disorder = 0
let error = null
try {
  for await (const e of w) {
    if ((lastRev.get(e.key) ?? 0) >= e.revision) disorder++
    lastRev.set(e.key, e.revision)
    const [writer, seq] = e.value.split(':').map(Number)
    const k = `${e.key}/${writer}`
    if ((lastSeq.get(k) ?? -1) >= seq) disorder++
    lastSeq.set(k, seq)
    if (++seen === total) break
  }
} catch (e) {
  error = { name: e.name, oldest: e.oldestRevision }
}
parentPort.postMessage({ type: 'result', seen, disorder, error, last: Object.fromEntries(lastRev) })
