// One pooled thread of the workers suite. At start it rebuilds the keys from
// the seed (the same in every thread). Then, for each run the main thread
// asks for, it gets the run's workload (distribution, set share) and the
// contender (its private Map for the baseline, a ThreadMap handle to attach,
// or a peer's handle), warms up, waits for the common start signal, runs the
// get/set mix until told to stop, and reports its own operation count and
// time. Probe orders and op patterns are built once per workload and cached.
//
// Each thread also reports how long it waited on a run queue during the
// window (/proc/thread-self/schedstat: runnable, but another process had the
// CPU), so the main thread can tell a loaded machine from a slow map.
//
// Every get is checked against the value stored for that key (sets write the
// same value back, so the expected value never changes): a miss or a wrong
// value fails the run.
//
// Under --pin (workerData.cpu not null) the thread pins itself before it
// builds anything, and reports numa.currentCpu() then and after every run
// (lib/placement.mjs: another CPU fails the run).

import fs from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'
import { makeKeys, opPattern, probeSequence } from '../lib/keys.mjs'
import { fresh } from '../lib/measure.mjs'
import { attachPeer } from '../lib/peers.mjs'
import { checkCpu, pinSelf } from '../lib/placement.mjs'
import { loadNuma, loadThreadMap } from '../lib/threadmap.mjs'

// Nanoseconds this thread has waited for a CPU, or null off Linux.
function runQueueWaitNs() {
  try {
    return Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1])
  } catch {
    return null
  }
}

const GO = 0
const STOP = 1

function mixKernel(m, probe, values, pattern, start, end, bad) {
  let sum = 0
  for (let i = start; i < end; i++) {
    if (pattern[i & 4095] === 1) m.set(probe[i], values[i])
    else {
      const v = m.get(probe[i])
      if (v !== values[i]) bad[0]++
      sum += v
    }
  }
  return sum
}

const { n, seed, id, keyType, cpu } = workerData
const who = `worker ${id}`
const seenAtStart = cpu === null ? null : pinSelf(loadNuma(), cpu, who)
const keys = makeKeys(n, seed, keyType)
const now = process.hrtime.bigint
const kernels = new Map() // one compiled kernel per implementation
const probes = new Map() // dist -> { probe, values }
const patterns = new Map() // set percent -> pattern
let privateMap = null

function probeFor(dist) {
  if (!probes.has(dist)) {
    const length = dist === 'zipf' ? Math.max(n, 1 << 16) : n
    probes.set(dist, probeSequence(n, dist, seed, seed + 100 + id, length, keyType))
  }
  return probes.get(dist)
}

function patternFor(setPercent) {
  if (!patterns.has(setPercent)) patterns.set(setPercent, opPattern(setPercent, seed + 200 + id))
  return patterns.get(setPercent)
}

function mapFor(impl, handle, cleanups) {
  if (impl === 'map') {
    if (!privateMap) {
      privateMap = new Map()
      for (let i = 0; i < n; i++) privateMap.set(keys[i], i)
    }
    return privateMap
  }
  if (impl === 'threadmap') return loadThreadMap().attach(handle)
  return attachPeer(impl, handle, { onClose: (fn) => cleanups.push(fn) })
}

function run({ impl, kernelKey, handle, warmupMs, control, dist, setPercent, batch: batchSize }) {
  const cleanups = []
  const map = mapFor(impl, handle, cleanups)
  if (map.size !== n) throw new Error(`thread ${id}: ${impl} has ${map.size} entries, expected ${n}`)
  if (!kernels.has(kernelKey)) kernels.set(kernelKey, fresh(mixKernel))
  const kernel = kernels.get(kernelKey)
  const { probe, values } = probeFor(dist)
  const pattern = patternFor(setPercent)
  const len = probe.length
  const bad = new Int32Array(1)

  const ctrl = new Int32Array(control)
  let cursor = 0
  let sink = 0
  const batch = () => {
    const start = cursor
    const end = Math.min(start + batchSize, len)
    cursor = end === len ? 0 : end
    sink += kernel(map, probe, values, pattern, start, end, bad)
    return end - start
  }

  const warmEnd = now() + BigInt(Math.round(warmupMs * 1e6))
  do batch()
  while (now() < warmEnd)

  parentPort.postMessage({ ready: true })
  Atomics.wait(ctrl, GO, 0)
  const w0 = runQueueWaitNs()
  const t0 = now()
  let ops = 0
  while (Atomics.load(ctrl, STOP) === 0) ops += batch()
  const ns = Number(now() - t0)
  const w1 = runQueueWaitNs()
  for (const fn of cleanups) fn()

  if (bad[0] !== 0) throw new Error(`thread ${id}: ${impl}: ${bad[0]} gets missed or returned a wrong value`)
  const seen = cpu === null ? null : checkCpu(loadNuma(), cpu, who)
  parentPort.postMessage({ ops, ns, sink, waitNs: w0 === null || w1 === null ? null : w1 - w0, seen })
}

parentPort.on('message', (msg) => {
  if (msg.cmd === 'run') run(msg)
  else if (msg.cmd === 'exit') parentPort.close()
})
parentPort.postMessage({ started: true, seen: seenAtStart })
