// One pooled thread of the workers suite. At start it rebuilds the keys from
// the seed (the same in every thread) and its own random order and op mix.
// Then, for each run the main thread asks for, it attaches to the shared
// ThreadMap (or uses its private Map, for the baseline), warms up, waits for
// the common start signal, runs the get/set mix until told to stop, and
// reports its own operation count and time.

import { parentPort, workerData } from 'node:worker_threads'
import { makeKeys, opPattern, probeOrder } from '../lib/keys.mjs'
import { fresh } from '../lib/measure.mjs'
import { loadThreadMap } from '../lib/threadmap.mjs'

const GO = 0
const STOP = 1
const BATCH = 1024

function mixKernel(m, probe, values, pattern, start, end) {
  let sum = 0
  for (let i = start; i < end; i++) {
    if (pattern[i & 4095] === 1) m.set(probe[i], values[i])
    else sum += m.get(probe[i])
  }
  return sum
}

const { n, seed, id, setPercent } = workerData
const keys = makeKeys(n, seed)
const { probe, values } = probeOrder(n, seed, seed + 100 + id)
const pattern = opPattern(setPercent, seed + 200 + id)
const now = process.hrtime.bigint
const kernels = { map: fresh(mixKernel), threadmap: fresh(mixKernel) }
let privateMap = null

function run({ impl, handle, warmupMs, control }) {
  let map
  if (impl === 'map') {
    if (!privateMap) {
      privateMap = new Map()
      for (let i = 0; i < n; i++) privateMap.set(keys[i], i)
    }
    map = privateMap
  } else {
    map = loadThreadMap().attach(handle)
  }
  if (map.size !== n) throw new Error(`thread ${id}: map has ${map.size} entries, expected ${n}`)

  const kernel = kernels[impl]
  const ctrl = new Int32Array(control)
  let cursor = 0
  let sink = 0
  const batch = () => {
    const start = cursor
    const end = Math.min(start + BATCH, n)
    cursor = end === n ? 0 : end
    sink += kernel(map, probe, values, pattern, start, end)
    return end - start
  }

  const warmEnd = now() + BigInt(Math.round(warmupMs * 1e6))
  do batch()
  while (now() < warmEnd)

  parentPort.postMessage({ ready: true })
  Atomics.wait(ctrl, GO, 0)
  const t0 = now()
  let ops = 0
  while (Atomics.load(ctrl, STOP) === 0) ops += batch()
  const ns = Number(now() - t0)

  // Every get hit a key holding a number, so the sum is finite.
  if (!Number.isFinite(sink)) throw new Error(`thread ${id}: a get missed (sum ${sink})`)
  parentPort.postMessage({ ops, ns, sink })
}

parentPort.on('message', (msg) => {
  if (msg.cmd === 'run') run(msg)
  else if (msg.cmd === 'exit') parentPort.close()
})
parentPort.postMessage({ started: true })
