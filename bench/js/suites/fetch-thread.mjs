// One worker of the fetch suite (suites/fetch.mjs): waits for 'go', fetches
// every key of the round at once, and reports, per key, when its fetch
// resolved (performance.timeOrigin + now(): comparable across threads),
// whether this thread's loader ran for it, and whether the value was right.
import { parentPort, workerData } from 'node:worker_threads'

import { loadThreadMap } from '../lib/threadmap.mjs'
import { fetchRound } from './fetch.mjs'

const ThreadMap = loadThreadMap()
const map = ThreadMap.attach(workerData.handle)
parentPort.on('message', async (m) => {
  if (m.type === 'go') {
    parentPort.postMessage({ type: 'done', rows: await fetchRound(map, m.keys, m.loadMs, m.mode) })
  } else if (m.type === 'exit') {
    parentPort.close()
  }
})
parentPort.postMessage({ type: 'ready' })
