// Worker threads sharing one ThreadMap: each thread runs the same mix
// (mtSetPercent% set, the rest get, keys in its own random order) on the one
// shared native map, for a fixed window after a common start signal. The
// same mix on 1 thread gives the scaling ratio, and on a private V8 Map in
// 1 thread the Map reference (a Map cannot be shared). Every thread, in the
// 1-thread runs too, is a pooled worker, so all pay the same costs.
//
// The configurations are run in rounds, in a rotating order, and each figure
// is the median over the rounds, so drifting machine load hits all of them.

import { Worker } from 'node:worker_threads'
import { makeKeys } from '../lib/keys.mjs'
import { consume, median, sleep } from '../lib/measure.mjs'
import { closeQuietly, newThreadMap } from '../lib/threadmap.mjs'

const threadUrl = new URL('./workers-thread.mjs', import.meta.url)

// A worker with an inbox: next() resolves with its next message, or rejects
// if it fails or exits.
class PooledThread {
  constructor(workerData) {
    this.inbox = []
    this.waiting = []
    this.failure = null
    this.worker = new Worker(threadUrl, { workerData })
    this.worker.on('message', (m) => this.deliver(m))
    this.worker.on('error', (err) => this.fail(err))
    this.worker.on('exit', (code) => this.fail(new Error(`bench worker ${workerData.id} exited (${code})`)))
  }

  deliver(m) {
    const w = this.waiting.shift()
    if (w) w.resolve(m)
    else this.inbox.push(m)
  }

  fail(err) {
    this.failure ??= err
    for (const w of this.waiting.splice(0)) w.reject(this.failure)
  }

  next() {
    if (this.inbox.length) return Promise.resolve(this.inbox.shift())
    if (this.failure) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }))
  }

  post(m) {
    this.worker.postMessage(m)
  }
}

async function startPool(count, n, opts) {
  const pool = []
  for (let id = 0; id < count; id++) {
    pool.push(new PooledThread({ n, seed: opts.seed, id, setPercent: opts.mtSetPercent }))
  }
  await Promise.all(pool.map((t) => t.next())) // each has built its keys
  return pool
}

async function stopPool(pool) {
  for (const t of pool) {
    t.worker.removeAllListeners('exit')
    t.post({ cmd: 'exit' })
  }
  await Promise.all(pool.map((t) => new Promise((resolve) => t.worker.once('exit', resolve))))
}

async function runOnce(pool, { impl, handle, threads }, opts) {
  const control = new SharedArrayBuffer(8)
  const ctrl = new Int32Array(control)
  const active = pool.slice(0, threads)
  for (const t of active) t.post({ cmd: 'run', impl, handle, warmupMs: opts.mtWarmupMs, control })
  await Promise.all(active.map((t) => t.next())) // warmed up, waiting for GO
  Atomics.store(ctrl, 0, 1)
  Atomics.notify(ctrl, 0)
  await sleep(opts.mtMs)
  Atomics.store(ctrl, 1, 1)
  const results = await Promise.all(active.map((t) => t.next()))
  for (const r of results) consume(r.sink)
  const ops = results.reduce((a, r) => a + r.ops, 0)
  const window = Math.max(...results.map((r) => r.ns))
  return {
    // All threads together over the longest thread's window (conservative).
    mops: (ops / window) * 1e3,
    // Mean time per operation as one thread sees it.
    nsPerOp: results.reduce((a, r) => a + r.ns / r.ops, 0) / results.length,
  }
}

export async function runWorkers(opts, record, progress) {
  const maxThreads = Math.max(...opts.threads)
  for (const n of opts.sizes) {
    const count = n.toLocaleString('en-US')
    progress(`workers: ${count} keys: starting ${maxThreads} threads, filling maps`)
    const pool = await startPool(maxThreads, n, opts)
    const keys = makeKeys(n, opts.seed)
    const maps = new Map()
    for (const s of opts.strategies) {
      const m = newThreadMap(s)
      for (let i = 0; i < n; i++) m.set(keys[i], i)
      maps.set(s, m)
    }

    const configs = [
      { impl: 'map', name: 'Map (private, 1 thread)', strategy: null, threads: 1, baseline: true },
      ...opts.strategies.flatMap((s) =>
        opts.threads.map((threads) => ({ impl: 'threadmap', name: `ThreadMap ${s}`, strategy: s, threads })),
      ),
    ]
    const runs = configs.map(() => [])
    try {
      for (let round = 0; round < opts.mtRounds; round++) {
        for (let k = 0; k < configs.length; k++) {
          const i = (round + k) % configs.length
          const c = configs[i]
          progress(`workers: ${count} keys: round ${round + 1}/${opts.mtRounds}: ${c.name}, ${c.threads} thread(s)`)
          const handle = c.strategy ? maps.get(c.strategy).handle() : null
          runs[i].push(await runOnce(pool, { impl: c.impl, handle, threads: c.threads }, opts))
        }
      }
    } finally {
      await stopPool(pool)
    }

    configs.forEach((c, i) => {
      const mops = runs[i].map((r) => r.mops)
      record({
        suite: 'workers',
        size: n,
        impl: c.name,
        strategy: c.strategy,
        threads: c.threads,
        baseline: !!c.baseline,
        mops: median(mops),
        minMops: Math.min(...mops),
        maxMops: Math.max(...mops),
        nsPerOp: median(runs[i].map((r) => r.nsPerOp)),
        rounds: runs[i],
      })
    })
    for (const [s, m] of maps) {
      if (m.size !== n) throw new Error(`ThreadMap ${s}: ${m.size} entries after the mix, expected ${n}`)
      closeQuietly(m)
    }
  }
}
