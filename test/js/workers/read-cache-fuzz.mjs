// The read cache's freshness under a random history (test/js/
// workers.read-cache-fresh.test.ts). Role 'writer': `epochs` random writes
// of every kind (set, delete, setMany, deleteMany, clear, add,
// compareAndSet, setIfAbsent, and a setMany of many new keys that grows the
// tables), each followed by its own gets of the keys it changed (checked
// against its model) and then acknowledged: shared[0] = epoch. It reports
// every change as [epoch, key, state]. Role 'reader': random gets of the
// tracked keys until the writer is done, each logged as [key, acknowledged
// before, acknowledged after, state], and how many made no native call. In
// `broken` mode the reader answers from a memo of its own that never asks
// again, which the checker must catch.
import { createRequire } from 'node:module'
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const require = createRequire(import.meta.url)
const { io, IO_LAYOUT } = require('../../../dist/native.js')

const { handle, role, epochs, seed: seed0, broken } = workerData
const shared = new Int32Array(workerData.sab) // [0] acknowledged epoch, [1] reads, [2] done
const map = ThreadMap.attach(handle)
const OBJECTS = Array.from({ length: 16 }, (_, i) => `o${i}`)
const COUNTERS = Array.from({ length: 8 }, (_, i) => `c${i}`)
const KEYS = [...OBJECTS, ...COUNTERS]
let seed = seed0 >>> 0 || 1
const rand = (n) => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
  return (seed >>> 8) % n
}
const state = (v) => (v === undefined ? '-' : JSON.stringify(v))

if (role === 'writer') {
  const model = new Map() // key -> value (absent: not in the map)
  const changes = []
  const errors = []
  for (let e = 1; e <= epochs; e++) {
    const changed = []
    const put = (k, v) => {
      model.set(k, v)
      changed.push(k)
    }
    const drop = (k) => {
      model.delete(k)
      changed.push(k)
    }
    const o = OBJECTS[rand(OBJECTS.length)]
    const c = COUNTERS[rand(COUNTERS.length)]
    switch (rand(9)) {
      case 0:
        map.set(o, { k: o, e })
        put(o, { k: o, e })
        break
      case 1:
        map.delete(o)
        drop(o)
        break
      case 2: {
        const ks = [o, OBJECTS[rand(OBJECTS.length)], OBJECTS[rand(OBJECTS.length)]]
        map.setMany(ks.map((k) => [k, { k, e, many: true }]))
        for (const k of ks) put(k, { k, e, many: true })
        break
      }
      case 3: {
        const ks = [o, c, OBJECTS[rand(OBJECTS.length)]]
        map.deleteMany(ks)
        for (const k of ks) drop(k)
        break
      }
      case 4:
        if (rand(4) !== 0) {
          // clear() is rarer: it resets every key
          put(c, map.add(c, 1))
          break
        }
        map.clear()
        for (const k of KEYS) if (model.has(k)) drop(k)
        break
      case 5:
        put(c, map.add(c, 1 + rand(3)))
        break
      case 6: {
        const cur = model.get(c)
        const next = (cur ?? 0) + 10
        if (!map.compareAndSet(c, cur, next)) errors.push(`compareAndSet(${c}, ${cur}) failed at ${e}`)
        put(c, next)
        break
      }
      case 7:
        if (map.setIfAbsent(c, e)) put(c, e)
        else if (!model.has(c)) errors.push(`setIfAbsent(${c}) found a value the model has not at ${e}`)
        break
      default: {
        // Growth: many new keys, so stripes rebuild their tables under the
        // tracked keys (which must keep their values).
        const g = Array.from({ length: 400 }, (_, i) => [`g${e}:${i}`, i])
        map.setMany(g)
        put(o, { k: o, e, grown: true })
        map.set(o, { k: o, e, grown: true })
      }
    }
    for (const k of new Set(changed)) {
      changes.push([e, k, state(model.get(k))])
      // This thread's own next get must see it (and a second, maybe a hit).
      for (let r = 0; r < 2; r++) {
        const got = state(map.get(k))
        if (got !== state(model.get(k))) errors.push(`own get of ${k} at ${e}: ${got}, not ${state(model.get(k))}`)
      }
    }
    Atomics.store(shared, 0, e)
    // Let the reader make some gets (most of them hits) before the next write.
    const seen = Atomics.load(shared, 1)
    for (let t = 0; t < 20 && Atomics.load(shared, 1) < seen + 60; t++) Atomics.wait(shared, 1, Atomics.load(shared, 1), 1)
  }
  Atomics.store(shared, 2, 1)
  parentPort.postMessage({ type: 'result', changes, errors })
} else {
  const log = []
  const memo = new Map()
  let fast = 0
  while (Atomics.load(shared, 2) === 0) {
    const k = KEYS[rand(KEYS.length)]
    const before = Atomics.load(shared, 0)
    io[IO_LAYOUT.ref] = -12345
    let v
    if (broken && memo.has(k)) v = memo.get(k)
    else {
      v = map.get(k)
      memo.set(k, v)
    }
    if (io[IO_LAYOUT.ref] === -12345 && !broken) fast++
    io[IO_LAYOUT.ref] = IO_LAYOUT.noRef
    const after = Atomics.load(shared, 0)
    log.push([k, before, after, state(v)])
    Atomics.add(shared, 1, 1)
    Atomics.notify(shared, 1)
  }
  const { hits, misses } = map.stats().readCache
  parentPort.postMessage({ type: 'result', log, fast, hits, misses })
}
