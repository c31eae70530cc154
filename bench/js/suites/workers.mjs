// Worker threads sharing one map. For each key count and workload (read share
// x key distribution), every thread runs the same get/set mix (keys in its own
// order) on one shared map, for a fixed window after a common start signal:
//
//   - ThreadMap, every selected strategy, at each thread count;
//   - the peers (lib/peers.mjs): lmdb-js and sharedmap shared by all threads,
//     and message passing to an owning thread, at each thread count;
//   - V8's Map, private to one thread: the drop-in baseline (a Map cannot be
//     shared, so it has no multi-thread figure).
//
// Every thread, in the 1-thread runs too, is a pooled worker, so all pay the
// same costs. The ThreadMaps are created and filled by the main thread with
// the run's numa option (--numa) and their placement is read before they are
// closed; under --pin worker i pins itself to the run's thread i's CPU and the
// message owner to the next (lib/placement.mjs), each checked after every run. The configurations of a key count run in rounds, in a rotating
// order (contenders and workloads interleaved), and each figure is the median
// over the rounds, so drifting machine load hits all of them.

import { MessageChannel, Worker } from 'node:worker_threads'
import { makeKeys } from '../lib/keys.mjs'
import { consume, median, sleep } from '../lib/measure.mjs'
import { createPeer, peerUnavailable } from '../lib/peers.mjs'
import { closeQuietly, newThreadMap } from '../lib/threadmap.mjs'

const threadUrl = new URL('./workers-thread.mjs', import.meta.url)
const ownerUrl = new URL('./owner-thread.mjs', import.meta.url)

// Operations between two looks at the stop flag, by how slow one operation is.
const BATCH = { map: 1024, threadmap: 1024, sharedmap: 512, lmdb: 256, message: 16 }

// A worker with an inbox: next() resolves with its next message, or rejects
// if it fails or exits.
class PooledThread {
  constructor(url, workerData) {
    this.inbox = []
    this.waiting = []
    this.failure = null
    this.worker = new Worker(url, { workerData })
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

  post(m, transfer) {
    this.worker.postMessage(m, transfer)
  }
}

async function startPool(count, n, opts, placement) {
  const pool = []
  for (let id = 0; id < count; id++) {
    pool.push(new PooledThread(threadUrl, { n, seed: opts.seed, id, keyType: opts.keyType, cpu: placement.cpuFor(id) }))
  }
  // Each has pinned itself (under --pin) and built its keys.
  const started = await Promise.all(pool.map((t) => t.next()))
  started.forEach((m, id) => sawPinned(placement, `worker ${id}`, id, m.seen))
  return pool
}

function sawPinned(placement, who, k, seen) {
  if (placement.pin) placement.saw(who, placement.cpuFor(k), seen)
}

async function stopThreads(threads) {
  for (const t of threads) {
    t.worker.removeAllListeners('exit')
    t.post({ cmd: 'exit' })
  }
  await Promise.all(threads.map((t) => new Promise((resolve) => t.worker.once('exit', resolve))))
}

// The handle each active thread gets for one run of contender `c`.
function handlesFor(c, threads, shared) {
  if (c.impl === 'message') {
    return Array.from({ length: threads }, () => {
      const { port1, port2 } = new MessageChannel()
      const flag = new SharedArrayBuffer(4)
      shared.owner.post({ cmd: 'client', port: port1, flag }, [port1])
      return { handle: { port: port2, flag, size: shared.n }, transfer: [port2] }
    })
  }
  const handle = c.impl === 'threadmap' ? shared.maps.get(c.strategy).handle() : shared.peers.get(c.impl)?.handle
  return Array.from({ length: threads }, () => ({ handle: handle ?? null, transfer: [] }))
}

async function runOnce(pool, c, workload, shared, opts, placement) {
  const control = new SharedArrayBuffer(8)
  const ctrl = new Int32Array(control)
  const active = pool.slice(0, c.threads)
  const handles = handlesFor(c, c.threads, shared)
  active.forEach((t, i) =>
    t.post(
      {
        cmd: 'run',
        impl: c.impl,
        kernelKey: c.strategy ? `threadmap ${c.strategy}` : c.impl,
        handle: handles[i].handle,
        warmupMs: opts.mtWarmupMs,
        control,
        dist: workload.dist,
        setPercent: 100 - workload.reads,
        batch: BATCH[c.impl],
      },
      handles[i].transfer,
    ),
  )
  await Promise.all(active.map((t) => t.next())) // warmed up, waiting for GO
  Atomics.store(ctrl, 0, 1)
  Atomics.notify(ctrl, 0)
  const cpu0 = process.cpuUsage()
  await sleep(opts.mtMs)
  const cpu = process.cpuUsage(cpu0)
  Atomics.store(ctrl, 1, 1)
  const results = await Promise.all(active.map((t) => t.next()))
  results.forEach((r, id) => sawPinned(placement, `worker ${id}`, id, r.seen))
  for (const r of results) consume(r.sink)
  const ops = results.reduce((a, r) => a + r.ops, 0)
  const window = Math.max(...results.map((r) => r.ns))
  return {
    // All threads together over the longest thread's window (conservative).
    mops: (ops / window) * 1e3,
    // Mean time per operation as one thread sees it.
    nsPerOp: results.reduce((a, r) => a + r.ns / r.ops, 0) / results.length,
    // CPU time the whole process got during the window per benchmark thread
    // (the owner thread of `message` counts too): well under 1 means the
    // threads waited for a CPU (a loaded machine) or slept on a lock.
    cpuShare: (cpu.user + cpu.system) / 1e3 / (opts.mtMs * c.threads),
    // The worst thread's run-queue wait / its window (null: unknown): over
    // 0.2, another process had the CPU that thread wanted.
    waitShare: results.some((r) => r.waitNs === null) ? null : Math.max(...results.map((r) => r.waitNs / r.ns)),
  }
}

const starved = (r) => r.waitShare !== null && r.waitShare > 0.2

export function workloadsOf(opts) {
  return opts.reads.flatMap((reads) => opts.dists.map((dist) => ({ reads, dist })))
}

export function workersSteps(opts) {
  const peers = opts.peers.filter((p) => p !== 'map')
  const perWorkload = 1 + (opts.strategies.length + peers.length) * opts.threads.length
  return opts.sizes.length * workloadsOf(opts).length * perWorkload * opts.mtRounds
}

export async function runWorkers(opts, record, bar, notes, placement) {
  const maxThreads = Math.max(...opts.threads)
  const peers = []
  for (const p of opts.peers.filter((x) => x !== 'map')) {
    const why = peerUnavailable(p, opts.keyType)
    if (why) notes.push(`peer ${p} skipped (${opts.keyType} keys): ${why}`)
    else peers.push(p)
  }
  const workloads = workloadsOf(opts)
  for (const n of opts.sizes) {
    const count = n.toLocaleString('en-US')
    bar.label(`${count} keys: starting ${maxThreads} threads, filling maps`)
    const pool = await startPool(maxThreads, n, opts, placement)
    const keys = makeKeys(n, opts.seed, opts.keyType)
    const shared = { n, maps: new Map(), peers: new Map(), owner: null }
    for (const s of opts.strategies) {
      const m = newThreadMap(s, opts.keyType, opts.numa)
      for (let i = 0; i < n; i++) m.set(keys[i], i)
      shared.maps.set(s, m)
    }
    for (const p of peers) {
      if (p === 'message') {
        const cpu = placement.cpuFor(maxThreads)
        shared.owner = new PooledThread(ownerUrl, { n, seed: opts.seed, id: 'owner', keyType: opts.keyType, cpu })
        sawPinned(placement, 'message owner', maxThreads, (await shared.owner.next()).seen)
      } else {
        shared.peers.set(p, createPeer(p, keys))
      }
    }

    const contenders = [
      { impl: 'map', name: 'Map (private, 1 thread)', strategy: null, threads: 1, baseline: true },
      ...opts.strategies.flatMap((s) =>
        opts.threads.map((threads) => ({ impl: 'threadmap', name: `ThreadMap ${s}`, strategy: s, threads })),
      ),
      ...peers.flatMap((p) => opts.threads.map((threads) => ({ impl: p, name: p, strategy: null, threads, peer: true }))),
    ]
    const configs = workloads.flatMap((w) => contenders.map((c) => ({ ...c, workload: w })))
    const runs = configs.map(() => [])
    const retries = configs.map(() => 0)
    try {
      for (let round = 0; round < opts.mtRounds; round++) {
        for (let k = 0; k < configs.length; k++) {
          const i = (round * 7 + k) % configs.length
          const c = configs[i]
          bar.label(`${count} keys, ${c.workload.reads}% get ${c.workload.dist}: ${c.name} x${c.threads} (round ${round + 1}/${opts.mtRounds})`)
          let r = await runOnce(pool, c, c.workload, shared, opts, placement)
          // A run whose threads waited for a CPU (other processes on a shared
          // machine) measures the machine, not the map: run it again and keep
          // the attempt that got the most CPU.
          for (let k = 0; k < opts.retryStarved && starved(r); k++) {
            const again = await runOnce(pool, c, c.workload, shared, opts, placement)
            retries[i]++
            if (again.waitShare < r.waitShare) r = again
          }
          runs[i].push(r)
          bar.tick()
        }
      }
    } finally {
      await stopThreads(pool)
      if (shared.owner) await stopThreads([shared.owner])
    }

    configs.forEach((c, i) => {
      // The rounds in which no thread waited for a CPU, or all when none did.
      const clean = runs[i].filter((r) => !starved(r))
      const used = clean.length ? clean : runs[i]
      const mops = used.map((r) => r.mops)
      record({
        suite: 'workers',
        keyType: opts.keyType,
        size: n,
        reads: c.workload.reads,
        dist: c.workload.dist,
        impl: c.name,
        kind: c.baseline ? 'map' : c.peer ? 'peer' : 'threadmap',
        strategy: c.strategy,
        threads: c.threads,
        baseline: !!c.baseline,
        mops: median(mops),
        minMops: Math.min(...mops),
        maxMops: Math.max(...mops),
        nsPerOp: median(used.map((r) => r.nsPerOp)),
        cpuShare: median(used.map((r) => r.cpuShare)),
        waitShare: used.some((r) => r.waitShare === null) ? null : Math.max(...used.map((r) => r.waitShare)),
        starved: clean.length === 0,
        roundsUsed: used.length,
        retries: retries[i],
        rounds: runs[i],
      })
    })
    for (const [s, m] of shared.maps) {
      if (m.size !== n) throw new Error(`ThreadMap ${s}: ${m.size} entries after the mix, expected ${n}`)
      placement.addMap('workers', s, m.stats().numa)
      closeQuietly(m)
    }
    for (const [p, peer] of shared.peers) {
      const size = peer.size()
      if (size !== n) throw new Error(`${p}: ${size} entries after the mix, expected ${n}`)
      peer.close()
    }
  }
}
