// watch: what watch and snapshots cost (issue 18), `npm run bench --
// --suites=watch` (not in the default set: a snapshot of --watch-size
// entries under two writers takes seconds per round).
//
//   writes    ns per map.set on the main thread (10,000 string keys, number
//             values, --watch-writes sets per round) with 0, 1 and 8
//             watchers, consumed in one worker thread (which on a 2-core
//             machine also takes CPU from the writer), and with
//             --watch-baseline=DIST the same with no watcher on another
//             build (the dist/index.js of a checkout without watch)
//   snapshot  ms to take a snapshot of --watch-size entries while two worker
//             threads set random keys without pause; with the writers
//             stopped, ms to refresh() after 1,000 changes against ms for a
//             fresh snapshot() (the full copy)
//
// Configurations alternate round by round (--watch-rounds); each figure is
// the median with the range over the rounds.

import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

import { loadThreadMap } from '../lib/threadmap.mjs'
import { message } from '../lib/workers.mjs'

const thread = new URL('./watch-thread.mjs', import.meta.url)
const WRITE_KEYS = 10_000
const CHANGES = 1_000

function spread(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
  return { median, min: s[0], max: s[s.length - 1] }
}

function timeWrites(map, writes) {
  const keys = Array.from({ length: WRITE_KEYS }, (_, i) => `k${i}`)
  for (let i = 0; i < 2 * WRITE_KEYS; i++) map.set(keys[i % WRITE_KEYS], i) // warm
  const t0 = performance.now()
  for (let i = 0; i < writes; i++) map.set(keys[(i * 7919) % WRITE_KEYS], i)
  return ((performance.now() - t0) * 1e6) / writes
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
  return opts.watchRounds * ((opts.watchBaseline ? 4 : 3) + 1)
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
  for (let round = 0; round < opts.watchRounds; round++) {
    for (const [name, Ctor, watchers] of configs) {
      bar.label(`watch: round ${round + 1}, writes with ${name}`)
      const map = new Ctor(null, { keys: 'string', values: 'number', strategy })
      writes.get(name).push(await withConsumer(map, watchers, () => timeWrites(map, opts.watchWrites)))
      map.close()
      bar.tick(`watch: ${name}`)
    }
  }
  for (const [name, xs] of writes) {
    record({ suite: 'watch', part: 'writes', impl: name, strategy, keys: WRITE_KEYS, writes: opts.watchWrites, nsPerSet: spread(xs) })
  }

  const size = opts.watchSize
  const map = new ThreadMap(null, { keys: 'string', values: 'number', strategy })
  for (let i = 0; i < size; i += 4096) {
    const n = Math.min(4096, size - i)
    map.setMany(
      Array.from({ length: n }, (_, j) => `k${i + j}`),
      Array.from({ length: n }, (_, j) => i + j),
    )
  }
  const take = []
  const refresh = []
  const copy = []
  let writesDuring = 0
  let retries = 0
  for (let round = 0; round < opts.watchRounds; round++) {
    bar.label(`watch: round ${round + 1}, snapshot of ${size} under 2 writers`)
    const stop = new SharedArrayBuffer(4)
    const ws = [0, 1].map(() => new Worker(thread, { workerData: { role: 'write', handle: map.handle(), keys: size, stop } }))
    const done = ws.map((w) => message(w, 'result'))
    const exits = ws.map((w) => new Promise((resolve) => w.once('exit', resolve)))
    await Promise.all(ws.map((w) => message(w, 'ready')))
    await new Promise((r) => setTimeout(r, 50))
    let t0 = performance.now()
    const s = map.snapshot()
    take.push(performance.now() - t0)
    retries += s.stats().retries
    Atomics.store(new Int32Array(stop), 0, 1)
    for (const d of done) writesDuring += (await d).writes
    await Promise.all(exits)
    s.refresh()
    for (let i = 0; i < CHANGES; i++) map.set(`k${(i * 997 + round) % size}`, -i)
    t0 = performance.now()
    s.refresh()
    refresh.push(performance.now() - t0)
    t0 = performance.now()
    const fresh = map.snapshot()
    copy.push(performance.now() - t0)
    const same = fresh.size === s.size && [...fresh.entries()].every(([k, v]) => s.get(k) === v)
    fresh.close()
    s.close()
    if (!same) throw new Error('watch bench: a refreshed snapshot differs from a fresh one')
    bar.tick('watch: snapshot')
  }
  map.close()
  record({
    suite: 'watch',
    part: 'snapshot',
    strategy,
    size,
    changes: CHANGES,
    snapshotMs: spread(take),
    refreshMs: spread(refresh),
    copyMs: spread(copy),
    writesDuring,
    retries,
  })
}

const fmt = ({ median, min, max }, digits = 1) => `${median.toFixed(digits)} (${min.toFixed(digits)}-${max.toFixed(digits)})`

/** Write cost per watcher count, then the snapshot figures. */
export function watchTable(results) {
  const rows = []
  const w = results.filter((r) => r.part === 'writes')
  if (w.length) {
    rows.push(`watch: ns per set, ${w[0].strategy}, ${w[0].keys} string keys, median (range) of alternated rounds`)
    for (const r of w) rows.push(`  ${r.impl.padEnd(28)} ${fmt(r.nsPerSet)}`)
  }
  for (const r of results.filter((x) => x.part === 'snapshot')) {
    rows.push(`snapshot of ${r.size} entries (${r.strategy}), median (range) over rounds`)
    rows.push(`  snapshot() under 2 writing threads   ${fmt(r.snapshotMs)} ms`)
    rows.push(`  refresh() after ${r.changes} changes        ${fmt(r.refreshMs, 2)} ms`)
    rows.push(`  snapshot() again (full copy), quiet  ${fmt(r.copyMs)} ms`)
    rows.push(`  (the writers set ${r.writesDuring} keys in all rounds; copies redone for an outrun buffer: ${r.retries})`)
  }
  return rows.join('\n')
}
