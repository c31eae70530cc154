// watch: what watch and snapshots cost (issue 18), `npm run bench --
// --suites=watch` (not in the default set: a snapshot of --watch-size
// entries under two writers takes seconds per round).
//
//   writes    ns per map.set on the main thread (10,000 string keys, number
//             values, --watch-writes sets per round) with 0, 1 and 8
//             watchers, consumed in one worker thread (which on a 2-core
//             machine also takes CPU from the writer: on Linux the writer
//             thread's own CPU time and run-queue wait are shown too), and with
//             --watch-baseline=DIST the same with no watcher on another
//             build (the dist/index.js of a checkout without watch)
//   snapshot  the lazy (copy-on-write) and the eager snapshot, alternated:
//             ms to take one of --watch-size entries while two worker
//             threads set random keys without pause, and the longest single
//             set either writer saw meanwhile and in the second after,
//             beside the longest in the 50 ms before (the scheduler's
//             share); the copy's bytes; ns per get of the snapshot; with the
//             writers stopped, ms to refresh() after 1,000 changes, to
//             take a fresh one, and close()'s ms on the JS thread
//
// Configurations alternate round by round (--watch-rounds); each figure is
// the median with the range over the rounds.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

import { spread } from '../lib/measure.mjs'
import { loadThreadMap } from '../lib/threadmap.mjs'
import { message } from '../lib/workers.mjs'

const thread = new URL('./watch-thread.mjs', import.meta.url)
const WRITE_KEYS = 10_000
const CHANGES = 1_000

// This thread's time on a CPU and waiting for one, in ns (Linux: the
// kernel's schedstat of the thread; null elsewhere). On a machine with as
// many busy threads as cores, a watcher's consumer takes CPU from the
// writer, and the wall time per set says more about the scheduler than
// about the write: the writer's own CPU time is the write's cost.
function schedstat() {
  try {
    const [run, wait] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ').map(Number)
    return { run, wait }
  } catch {
    return null
  }
}

// The timed loop, compiled once per configuration: with one loop for all,
// its map.set call site sees the baseline build's ThreadMap class and this
// one's, so whichever ran first is timed monomorphic and the other not,
// which made the baseline look faster in this process than it was in a
// process of its own (docs/benchmarks.md, watch section).
const setLoop = () => new Function('map', 'keys', 'n', 'm', 'for (let i = 0; i < n; i++) map.set(keys[(i * 7919) % m], i)')

function timeWrites(map, writes, loop) {
  const keys = Array.from({ length: WRITE_KEYS }, (_, i) => `k${i}`)
  for (let i = 0; i < 2 * WRITE_KEYS; i++) map.set(keys[i % WRITE_KEYS], i) // warm
  loop(map, keys, 2 * WRITE_KEYS, WRITE_KEYS) // warm the loop too
  const s0 = schedstat()
  const t0 = performance.now()
  loop(map, keys, writes, WRITE_KEYS)
  const wall = ((performance.now() - t0) * 1e6) / writes
  const s1 = schedstat()
  return {
    wall,
    cpu: s0 && s1 ? (s1.run - s0.run) / writes : null,
    wait: s0 && s1 ? (s1.wait - s0.wait) / writes : null,
  }
}

async function withConsumer(map, watchers, fn) {
  if (watchers === 0) return fn()
  const stop = new SharedArrayBuffer(4)
  const w = new Worker(thread, { workerData: { role: 'consume', handle: map.handle(), watchers, stop } })
  const exit = new Promise((resolve) => w.once('exit', resolve))
  await message(w, 'ready')
  const r = fn()
  Atomics.store(new Int32Array(stop), 0, 1)
  map.set('wake', 0) // every watcher gets one more event and sees the flag
  await message(w, 'result')
  await exit
  return r
}

export function watchSteps(opts) {
  const writes = opts.watchParts.includes('writes') ? (opts.watchBaseline ? 4 : 3) : 0
  const snapshots = opts.watchParts.includes('snapshot') ? 2 : 0
  return opts.watchRounds * (writes + snapshots)
}

export async function runWatch(opts, record, bar) {
  const ThreadMap = loadThreadMap()
  const strategy = 'striped'
  const configs = [
    ...(opts.watchBaseline ? [['baseline build, 0 watchers', createRequire(import.meta.url)(opts.watchBaseline).ThreadMap, 0]] : []),
    ['0 watchers', ThreadMap, 0],
    ['1 watcher', ThreadMap, 1],
    ['8 watchers', ThreadMap, 8],
  ]
  const writes = new Map(configs.map(([name]) => [name, []]))
  const loops = new Map(configs.map(([name]) => [name, setLoop()]))
  for (let round = 0; round < opts.watchRounds && opts.watchParts.includes('writes'); round++) {
    for (const [name, Ctor, watchers] of configs) {
      bar.label(`watch: round ${round + 1}, writes with ${name}`)
      const map = new Ctor(null, { keys: 'string', values: 'number', strategy })
      writes.get(name).push(await withConsumer(map, watchers, () => timeWrites(map, opts.watchWrites, loops.get(name))))
      map.close()
      bar.tick(`watch: ${name}`)
    }
  }
  for (const [name, xs] of writes) {
    if (xs.length === 0) continue
    const cpu = xs.every((x) => x.cpu !== null) ? spread(xs.map((x) => x.cpu)) : null
    const wait = xs.every((x) => x.wait !== null) ? spread(xs.map((x) => x.wait)) : null
    record({
      suite: 'watch',
      part: 'writes',
      impl: name,
      strategy,
      keys: WRITE_KEYS,
      writes: opts.watchWrites,
      nsPerSet: spread(xs.map((x) => x.wall)),
      cpuNsPerSet: cpu,
      waitNsPerSet: wait,
    })
  }

  if (!opts.watchParts.includes('snapshot')) return
  const size = opts.watchSize
  const snapStrategy = opts.watchStrategy
  const map = new ThreadMap(null, { keys: 'string', values: 'number', strategy: snapStrategy })
  for (let i = 0; i < size; i += 4096) {
    const n = Math.min(4096, size - i)
    map.setMany(
      Array.from({ length: n }, (_, j) => `k${i + j}`),
      Array.from({ length: n }, (_, j) => i + j),
    )
  }
  // The two designs alternate within each round (snapshot.hpp, LAZY):
  // 'lazy' claims the stripes and lets writers copy them, 'eager' copies
  // every entry before snapshot() returns.
  const modes = ['lazy', 'eager']
  const fig = Object.fromEntries(
    modes.map((m) => [
      m,
      { take: [], stall: [], after: [], calm: [], slow: [0, 0, 0], refresh: [], copy: [], getNs: [], copyMiB: [], copyReadMiB: [], closeMs: [], writes: 0, retries: 0 },
    ]),
  )
  const keyList = Array.from({ length: 100_000 }, (_, i) => `k${(i * 7919) % size}`)
  for (let round = 0; round < opts.watchRounds; round++) {
    for (const mode of round % 2 === 0 ? modes : [...modes].reverse()) {
      const f = fig[mode]
      bar.label(`watch: round ${round + 1}, ${mode} snapshot of ${size} under 2 writers`)
      const stop = new SharedArrayBuffer(8) // [stop, phase: 0 before, 1 taking, 2 after]
      const ws = [0, 1].map(() => new Worker(thread, { workerData: { role: 'write', handle: map.handle(), keys: size, stop } }))
      const done = ws.map((w) => message(w, 'result'))
      const exits = ws.map((w) => new Promise((resolve) => w.once('exit', resolve)))
      await Promise.all(ws.map((w) => message(w, 'ready')))
      await new Promise((r) => setTimeout(r, 50))
      Atomics.store(new Int32Array(stop), 1, 1)
      let t0 = performance.now()
      const s = map.snapshot({ copy: mode })
      f.take.push(performance.now() - t0)
      Atomics.store(new Int32Array(stop), 1, 2)
      f.retries += s.stats().retries
      // The second after the take: the writes that copy a lazy snapshot's stripes.
      await new Promise((r) => setTimeout(r, 1000))
      Atomics.store(new Int32Array(stop), 0, 1)
      let during = 0
      let after = 0
      let before = 0
      for (const d of done) {
        const r = await d
        f.writes += r.writes
        during = Math.max(during, r.longestMs)
        after = Math.max(after, r.longestAfterMs)
        before = Math.max(before, r.longestBeforeMs)
        for (let p = 0; p < 3; p++) f.slow[p] += r.slow[p]
      }
      f.stall.push(during)
      f.after.push(after)
      f.calm.push(before)
      await Promise.all(exits)
      f.copyMiB.push(s.stats().bytes / 2 ** 20)
      // Catch up with the second of writes (a copy, or claims, again where
      // they outran the buffer), then read: one warm pass (a lazy snapshot
      // copies and indexes what is left), then a timed one, so get() and the
      // refresh below are timed on a snapshot in its steady state.
      s.refresh()
      for (const k of keyList) s.get(k)
      t0 = performance.now()
      let sum = 0
      for (const k of keyList) sum += s.get(k) ?? 0
      f.getNs.push(((performance.now() - t0) * 1e6) / keyList.length)
      if (!Number.isFinite(sum)) throw new Error('watch bench: a snapshot read no number')
      f.copyReadMiB.push(s.stats().bytes / 2 ** 20)
      for (let i = 0; i < CHANGES; i++) map.set(`k${(i * 997 + round) % size}`, -i)
      t0 = performance.now()
      s.refresh()
      f.refresh.push(performance.now() - t0)
      t0 = performance.now()
      const fresh = map.snapshot({ copy: mode })
      f.copy.push(performance.now() - t0)
      const same = fresh.size === s.size && [...fresh.entries()].every(([k, v]) => s.get(k) === v)
      fresh.close()
      t0 = performance.now()
      s.close()
      f.closeMs.push(performance.now() - t0)
      if (!same) throw new Error('watch bench: a refreshed snapshot differs from a fresh one')
      bar.tick(`watch: ${mode} snapshot`)
    }
  }
  map.close()
  for (const mode of modes) {
    const f = fig[mode]
    record({
      suite: 'watch',
      part: 'snapshot',
      strategy: snapStrategy,
      mode,
      slowSets: f.slow,
      size,
      changes: CHANGES,
      snapshotMs: spread(f.take),
      refreshMs: spread(f.refresh),
      copyMs: spread(f.copy),
      closeMs: spread(f.closeMs),
      getNs: spread(f.getNs),
      copyMiB: spread(f.copyMiB),
      copyReadMiB: spread(f.copyReadMiB),
      writesDuring: f.writes,
      retries: f.retries,
      longestSetMs: spread(f.stall),
      longestSetAfterMs: spread(f.after),
      longestSetBeforeMs: spread(f.calm),
    })
  }
}

const fmt = ({ median, min, max }, digits = 1) => `${median.toFixed(digits)} (${min.toFixed(digits)}-${max.toFixed(digits)})`

/** Write cost per watcher count, then the snapshot figures. */
export function watchTable(results) {
  const rows = []
  const w = results.filter((r) => r.part === 'writes')
  if (w.length) {
    rows.push(`watch: ns per set, ${w[0].strategy}, ${w[0].keys} string keys, median (range) of alternated rounds`)
    rows.push(`  ${''.padEnd(28)} wall; the writer thread's CPU time and run-queue wait`)
    for (const r of w) {
      const sched = r.cpuNsPerSet ? `; cpu ${fmt(r.cpuNsPerSet)}, wait ${fmt(r.waitNsPerSet)}` : ''
      rows.push(`  ${r.impl.padEnd(28)} ${fmt(r.nsPerSet)}${sched}`)
    }
  }
  for (const r of results.filter((x) => x.part === 'snapshot')) {
    rows.push(`${r.mode} snapshot of ${r.size} entries (${r.strategy}), median (range) over rounds`)
    rows.push(`  snapshot() under 2 writing threads   ${fmt(r.snapshotMs)} ms`)
    rows.push(`  refresh() after ${r.changes} changes        ${fmt(r.refreshMs, 2)} ms`)
    rows.push(`  snapshot() again, quiet              ${fmt(r.copyMs)} ms`)
    rows.push(`  close() on the JS thread             ${fmt(r.closeMs, 2)} ms`)
    rows.push(`  get() of the snapshot                ${fmt(r.getNs)} ns`)
    rows.push(`  the copy's bytes (counted): after 1 s of writes ${fmt(r.copyMiB)} MiB, after reads ${fmt(r.copyReadMiB)} MiB`)
    rows.push(`  the writers' longest single set, during  ${fmt(r.longestSetMs, 2)} ms`)
    rows.push(`    in the second after the snapshot       ${fmt(r.longestSetAfterMs, 2)} ms`)
    rows.push(`    and in the 50 ms before the snapshot   ${fmt(r.longestSetBeforeMs, 2)} ms`)
    rows.push(`  sets of 1 ms or more, all rounds: ${r.slowSets[0]} in the 50 ms before, ${r.slowSets[1]} during, ${r.slowSets[2]} in the second after`)
    rows.push(`  (the writers set ${r.writesDuring} keys in all rounds; copies redone for an outrun buffer: ${r.retries})`)
  }
  return rows.join('\n')
}
