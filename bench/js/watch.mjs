// The cost of watch and snapshots (issue 18): run with `node bench/js/watch.mjs`
// after `npm run build:all`. Figures go to docs/benchmarks.md ("Watch and
// snapshots"), never into tests.
//
//   writes   ns per map.set on the main thread (10,000 string keys, number
//            values, windows of --writes sets) with 0, 1 and 8 watchers
//            (consumed in one worker thread), and, with --baseline=DIST, the
//            same with no watcher on another build (dist/index.js of a
//            checkout without watch), alternated for --rounds rounds
//   snapshot ms to take a snapshot of --size entries while two worker
//            threads set random keys without pause, and, with the writers
//            stopped, ms to refresh() after 1,000 changes against ms for a
//            fresh snapshot() (the full copy), alternated
//
// Each figure: median and range over the rounds.

import { createRequire } from 'node:module'
import os from 'node:os'
import { Worker } from 'node:worker_threads'

import { loadThreadMap } from './lib/threadmap.mjs'

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=')
    return [k, v ?? 'true']
  }),
)
const ROUNDS = Number(args.rounds ?? 5)
const WRITES = Number(args.writes ?? 200_000)
const SIZE = Number(args.size ?? 1_000_000)
const parts = (args.parts ?? 'writes,snapshot').split(',')
const ThreadMap = loadThreadMap()
const Baseline = args.baseline ? createRequire(import.meta.url)(args.baseline).ThreadMap : null

const thread = new URL('./suites/watch-thread.mjs', import.meta.url)

function message(w, type) {
  return new Promise((resolve, reject) => {
    const on = (m) => {
      if (m.type === type) {
        w.off('message', on)
        resolve(m)
      }
    }
    w.on('message', on)
    w.once('error', reject)
  })
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const med = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
  return { median: med, min: s[0], max: s[s.length - 1] }
}

const fmt = ({ median, min, max }, digits = 1) =>
  `${median.toFixed(digits)} (${min.toFixed(digits)}-${max.toFixed(digits)})`

function timeWrites(map) {
  const keys = Array.from({ length: 10_000 }, (_, i) => `k${i}`)
  for (let i = 0; i < 20_000; i++) map.set(keys[i % 10_000], i) // warm
  const t0 = performance.now()
  for (let i = 0; i < WRITES; i++) map.set(keys[(i * 7919) % 10_000], i)
  return ((performance.now() - t0) * 1e6) / WRITES
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
  const { events } = await message(w, 'result')
  await exit
  return { r, events }
}

async function writes() {
  const configs = [
    ...(Baseline ? [['baseline build, 0 watchers', Baseline, 0]] : []),
    ['0 watchers', ThreadMap, 0],
    ['1 watcher', ThreadMap, 1],
    ['8 watchers', ThreadMap, 8],
  ]
  const results = new Map(configs.map(([name]) => [name, []]))
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, Ctor, watchers] of configs) {
      const map = new Ctor(null, { keys: 'string', values: 'number', strategy: args.strategy ?? 'striped' })
      const out = await withConsumer(map, watchers, () => timeWrites(map))
      results.get(name).push(typeof out === 'number' ? out : out.r)
      map.close()
    }
  }
  console.log(`\nwrites: ns per set, ${args.strategy ?? 'striped'}, median (range) of ${ROUNDS} alternated rounds`)
  for (const [name, xs] of results) console.log(`  ${name.padEnd(28)} ${fmt(stats(xs))}`)
}

async function snapshots() {
  const map = new ThreadMap(null, { keys: 'string', values: 'number', strategy: args.strategy ?? 'striped' })
  for (let i = 0; i < SIZE; i += 4096) {
    const n = Math.min(4096, SIZE - i)
    map.setMany(
      Array.from({ length: n }, (_, j) => `k${i + j}`),
      Array.from({ length: n }, (_, j) => i + j),
    )
  }
  const take = [], refresh = [], copy = []
  let writesDuring = 0
  let retries = 0
  for (let round = 0; round < ROUNDS; round++) {
    const stop = new SharedArrayBuffer(4)
    const ws = [0, 1].map(() => new Worker(thread, { workerData: { role: 'write', handle: map.handle(), keys: SIZE, stop } }))
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
    for (let i = 0; i < 1000; i++) map.set(`k${(i * 997 + round) % SIZE}`, -i)
    t0 = performance.now()
    s.refresh()
    refresh.push(performance.now() - t0)
    t0 = performance.now()
    const fresh = map.snapshot()
    copy.push(performance.now() - t0)
    if (fresh.size !== s.size || s.get('k0') !== fresh.get('k0')) throw new Error('refresh differs from a fresh snapshot')
    fresh.close()
    s.close()
  }
  console.log(`\nsnapshot of ${SIZE} entries (${args.strategy ?? 'striped'}), median (range) of ${ROUNDS} rounds`)
  console.log(`  snapshot() under 2 writing threads   ${fmt(stats(take))} ms`)
  console.log(`  refresh() after 1,000 changes        ${fmt(stats(refresh), 2)} ms`)
  console.log(`  snapshot() again (full copy), quiet  ${fmt(stats(copy))} ms`)
  console.log(`  (the writers set ${writesDuring} keys in all rounds; copies redone for an outrun buffer: ${retries})`)
  map.close()
}

console.log(`${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, Node ${process.version}, load ${os.loadavg()[0].toFixed(1)}`)
if (parts.includes('writes')) await writes()
if (parts.includes('snapshot')) await snapshots()
