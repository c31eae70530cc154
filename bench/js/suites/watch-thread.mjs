// The watch suite's helper threads: `consume` opens `watchers` watches on the
// map and reads every event until told to stop; `write` sets random keys
// until told to stop (the snapshot part's two writers) and reports the
// longest single set.
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
  // Also the longest time one set took (a stall: the snapshot's barrier or
  // a stripe being copied, or the scheduler), timed per set.
  let n = 0
  let x = 12345
  // flag[1]: 0 before the snapshot, 1 while it is taken, 2 after it (a
  // lazy snapshot's stripes are copied by the writes that come); one
  // figure each, so the scheduler's own stalls (before) stand beside the
  // snapshot's.
  const longest = [0, 0, 0]
  const slow = [0, 0, 0] // sets of 1 ms or more
  parentPort.postMessage({ type: 'ready' })
  while (Atomics.load(flag, 0) === 0) {
    x = (x * 1103515245 + 12345) & 0x7fffffff
    const phase = Atomics.load(flag, 1)
    const t = performance.now()
    map.set(`k${x % keys}`, n++)
    const d = performance.now() - t
    if (d > longest[phase]) longest[phase] = d
    if (d >= 1) slow[phase]++
  }
  parentPort.postMessage({ type: 'result', writes: n, longestBeforeMs: longest[0], longestMs: longest[1], longestAfterMs: longest[2], slow })
}
