// node bench/js/readmostly-clear.mjs [what=clear,promote,close] [sizes=50000,100000,200000,1000000]
//   [dist=dist/index.js]: the map-wide operations of `readmostly` (issue 12,
// item 4), each size in a fresh process.
//   clear    a map of n 'key:' + i -> i entries, promoted (one read table),
//            then clear(); also the next get(), which frees what clear retired
//   promote  n entries, promoted, all deleted, one new key (which copies the
//            read table and expunges the n deleted entries), then the get()
//            that promotes dirty and drops the n expunged entries
//   close    a worker runs clear() on its own n-entry map while the main
//            thread closes a small map: close() waits for every call in
//            progress (epoch::synchronize), so it waits for that clear()
// `dist` points at another build's compiled package, for A/B runs.

import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'

const self = fileURLToPath(import.meta.url)
const root = path.resolve(path.dirname(self), '..', '..')

function load(dist) {
  return createRequire(import.meta.url)(path.resolve(root, dist)).ThreadMap
}

function filled(ThreadMap, n) {
  const m = new ThreadMap(null, { keys: 'string', values: 'number', strategy: 'readmostly' })
  for (let i = 0; i < n; i++) m.set('key:' + i, i)
  // New keys went to the dirty table; misses on one of them promote it.
  while (m.stats().numa.tables.length !== 1) m.get('key:1')
  return m
}

function time(f) {
  const t = performance.now()
  f()
  return performance.now() - t
}

async function child(what, n, dist) {
  const ThreadMap = load(dist)
  if (what === 'clear') {
    const m = filled(ThreadMap, n)
    const clear = time(() => m.clear())
    const next = time(() => m.get('key:1'))
    return { clear, next }
  }
  if (what === 'promote') {
    const m = filled(ThreadMap, n)
    for (let i = 0; i < n; i++) m.delete('key:' + i)
    const copy = time(() => m.set('new', 1))
    const promote = time(() => m.get('new'))
    if (m.stats().numa.tables.length !== 1) throw new Error('the get did not promote')
    return { copy, promote }
  }
  if (what === 'close') {
    const flag = new Int32Array(new SharedArrayBuffer(4))
    const source = `
      const { workerData, parentPort } = require('node:worker_threads')
      const { ThreadMap } = require(workerData.dist)
      const m = new ThreadMap(null, { keys: 'string', values: 'number', strategy: 'readmostly' })
      for (let i = 0; i < workerData.n; i++) m.set('key:' + i, i)
      while (m.stats().numa.tables.length !== 1) m.get('key:1')
      const t = performance.now()
      Atomics.store(workerData.flag, 0, 1)
      m.clear()
      parentPort.postMessage(performance.now() - t)`
    const small = new ThreadMap(null, { keys: 'string', values: 'number', strategy: 'readmostly' })
    small.set('a', 1)
    const w = new Worker(source, { eval: true, workerData: { n, flag, dist: path.resolve(root, dist) } })
    const done = new Promise((resolve) => w.once('message', resolve))
    while (Atomics.load(flag, 0) === 0) Atomics.wait(flag, 0, 0, 1)
    const close = time(() => small.close())
    const clear = await done
    await w.terminate()
    return { close, clear }
  }
  throw new Error(`unknown measurement ${what}`)
}

if (process.argv[2] === '--child') {
  const [what, n, dist] = process.argv.slice(3)
  console.log(JSON.stringify(await child(what, Number(n), dist)))
} else {
  const whats = (process.argv[2] ?? 'clear,promote,close').split(',')
  const sizes = (process.argv[3] ?? '50000,100000,200000,1000000').split(',').map(Number)
  const dist = process.argv[4] ?? 'dist/index.js'
  for (const what of whats) {
    for (const n of sizes) {
      const out = execFileSync(process.execPath, [self, '--child', what, String(n), dist], {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      })
      const r = JSON.parse(out)
      const fields = Object.entries(r)
        .map(([k, v]) => `${k} ${v.toFixed(1)} ms`)
        .join(', ')
      console.log(`${what} n=${n}: ${fields}`)
    }
  }
}
