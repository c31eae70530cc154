// The watch suite's helper threads: `consume` opens `watchers` watches on the
// map and reads every event until told to stop; `write` sets random keys
// until told to stop (the snapshot part's two writers).
import { parentPort, workerData } from 'node:worker_threads'

import { loadThreadMap } from '../lib/threadmap.mjs'

const ThreadMap = loadThreadMap()
const { role, handle, watchers, keys, stop } = workerData
const map = ThreadMap.attach(handle)
const flag = new Int32Array(stop)

if (role === 'consume') {
  let events = 0
  const all = Array.from({ length: watchers }, () => map.watch({ ref: true, bufferBytes: 256 << 20 }))
  parentPort.postMessage({ type: 'ready' })
  await Promise.all(
    all.map(async (w) => {
      for await (const _ of w) {
        void _
        events++
        if (Atomics.load(flag, 0) !== 0) break
      }
    }),
  )
  parentPort.postMessage({ type: 'result', events })
} else {
  let n = 0
  let x = 12345
  parentPort.postMessage({ type: 'ready' })
  while (Atomics.load(flag, 0) === 0) {
    x = (x * 1103515245 + 12345) & 0x7fffffff
    map.set(`k${x % keys}`, n++)
  }
  parentPort.postMessage({ type: 'result', writes: n })
}
