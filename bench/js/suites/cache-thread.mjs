// One worker of the cache suite (suites/cache.mjs): on 'go', runs 95% get /
// 5% set of Zipf(0.99) keys on the shared cache for `ms` (a miss is followed
// by a set of the key, as a cache's user does) and reports its operations.
import { parentPort, workerData } from 'node:worker_threads'

import { zipfSampler } from '../lib/keys.mjs'
import { consume } from '../lib/measure.mjs'
import { loadThreadMap } from '../lib/threadmap.mjs'

const ThreadMap = loadThreadMap()
const map = ThreadMap.attach(workerData.handle)
const next = zipfSampler(workerData.keys, 0.99, workerData.seed)
// Drawn before timing, so the loop measures the map.
const ring = Int32Array.from({ length: 1 << 16 }, () => next())
const ops = Uint8Array.from({ length: 1 << 16 }, (_, i) => ((i * 37) % 100 < workerData.reads ? 0 : 1))

parentPort.on('message', (m) => {
  if (m.type !== 'go') return
  let count = 0
  let sum = 0
  const start = process.hrtime.bigint()
  const deadline = start + BigInt(m.ms) * 1_000_000n
  let now = start
  let i = 0
  while (now < deadline) {
    for (let j = 0; j < 1024; j++, i = (i + 1) & 0xffff) {
      const key = ring[i]
      if (ops[i] === 0) {
        const v = map.get(key)
        if (v === undefined) map.set(key, key)
        else sum += v
      } else {
        map.set(key, key)
      }
    }
    count += 1024
    now = process.hrtime.bigint()
  }
  consume(sum)
  parentPort.postMessage({ type: 'done', ops: count, ns: Number(now - start) })
})
parentPort.postMessage({ type: 'ready' })
