// fetch: one loader per missing key across threads. Two workers and the main
// thread ask for the same --fetch-keys missing keys at once, through a slow
// loader (a timer of --fetch-load-ms), for --fetch-rounds rounds, each on a
// fresh map:
//
//   fetch        map.fetch(key, loader): the first thread to claim a key
//                loads it, the others wait for its value
//   get + load   what a cache without fetch does: get, and on a miss every
//                thread runs the loader itself and sets the value
//
// Counted, not sampled: loader runs (through the map's own add on
// 'runs:<key>', so every thread's runs are counted in one place) and values
// wrong or missing (0, checked for every caller). Timed: each caller's
// latency from its start to its value, and, for fetch, the wake latency: how
// long after the loading thread's fetch resolved a waiting thread's did
// (clocks made comparable with performance.timeOrigin).

import { Worker } from 'node:worker_threads'

import { median } from '../lib/measure.mjs'
import { loadThreadMap } from '../lib/threadmap.mjs'
import { message } from '../lib/workers.mjs'

const THREADS = 3 // two workers and the main thread

const now = () => performance.timeOrigin + performance.now()

/** One thread's part of a round: every key at once; a row per key. */
export async function fetchRound(map, keys, loadMs, mode) {
  const loaded = new Set()
  const loader = (key) => {
    loaded.add(key)
    map.add(`runs:${key}`, 1)
    return new Promise((resolve) => setTimeout(() => resolve(`value:${key}`), loadMs))
  }
  const start = now()
  const one =
    mode === 'fetch'
      ? (key) => map.fetch(key, loader)
      : async (key) => {
          const v = map.get(key)
          if (v !== undefined) return v
          const value = await loader(key)
          map.set(key, value)
          return value
        }
  return Promise.all(
    keys.map(async (key) => {
      const value = await one(key)
      const end = now()
      return { key, end, latency: end - start, loaded: loaded.has(key), ok: value === `value:${key}` }
    }),
  )
}

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN
}

export function fetchSteps(opts) {
  return 2 * opts.fetchRounds
}

export async function runFetch(opts, record, bar) {
  const ThreadMap = loadThreadMap()
  const keys = Array.from({ length: opts.fetchKeys }, (_, i) => `key:${i}`)
  const stats = { fetch: [], 'get + load': [] }
  for (let round = 0; round < opts.fetchRounds; round++) {
    for (const mode of ['fetch', 'get + load']) {
      bar.label(`fetch: round ${round + 1}, ${mode}`)
      const map = new ThreadMap(null, { keys: 'string', values: 'any', strategy: 'striped' })
      const ws = Array.from(
        { length: THREADS - 1 },
        () => new Worker(new URL('./fetch-thread.mjs', import.meta.url), { workerData: { handle: map.handle() } }),
      )
      await Promise.all(ws.map((w) => message(w, 'ready')))
      const done = ws.map((w) => message(w, 'done'))
      for (const w of ws) w.postMessage({ type: 'go', keys, loadMs: opts.fetchLoadMs, mode: mode === 'fetch' ? 'fetch' : 'get' })
      const mine = await fetchRound(map, keys, opts.fetchLoadMs, mode === 'fetch' ? 'fetch' : 'get')
      const rows = [mine, ...(await Promise.all(done)).map((m) => m.rows)].flat()
      for (const w of ws) w.postMessage({ type: 'exit' })
      await Promise.all(ws.map((w) => new Promise((r) => w.once('exit', r))))
      let runs = 0
      for (const k of keys) runs += map.get(`runs:${k}`) ?? 0
      const wrong = rows.filter((r) => !r.ok).length
      // Wake latency: a waiter's end minus its key's loader's end.
      const ownerEnd = new Map(rows.filter((r) => r.loaded).map((r) => [r.key, r.end]))
      const wakes = rows.filter((r) => !r.loaded && ownerEnd.has(r.key)).map((r) => r.end - ownerEnd.get(r.key))
      stats[mode].push({
        runs,
        wrong,
        latency: median(rows.map((r) => r.latency)),
        p99: quantile(rows.map((r) => r.latency), 0.99),
        wake: median(wakes),
        wakeP99: quantile(wakes, 0.99),
        loads: map.stats().loads,
      })
      map.close()
      bar.tick(`fetch: ${mode}`)
    }
  }
  for (const [mode, rs] of Object.entries(stats)) {
    record({
      suite: 'fetch',
      impl: mode,
      keys: opts.fetchKeys,
      threads: THREADS,
      loadMs: opts.fetchLoadMs,
      rounds: rs.length,
      loaderRuns: rs.map((r) => r.runs),
      wrong: rs.reduce((a, r) => a + r.wrong, 0),
      latencyMs: median(rs.map((r) => r.latency)),
      latencyMsRange: [Math.min(...rs.map((r) => r.latency)), Math.max(...rs.map((r) => r.latency))],
      p99Ms: median(rs.map((r) => r.p99)),
      wakeMs: mode === 'fetch' ? median(rs.map((r) => r.wake)) : null,
      wakeMsRange: mode === 'fetch' ? [Math.min(...rs.map((r) => r.wake)), Math.max(...rs.map((r) => r.wake))] : null,
      wakeP99Ms: mode === 'fetch' ? median(rs.map((r) => r.wakeP99)) : null,
      waits: rs.map((r) => r.loads.waits),
    })
  }
}

/** Loader runs per key, wrong values, and latency of each mode. */
export function fetchTable(results) {
  const rows = []
  for (const x of results) {
    if (rows.length === 0) {
      rows.push(
        `fetch: ${x.threads} threads (2 workers + main) ask for the same ${x.keys} missing keys at once, ` +
          `loader ${x.loadMs} ms, ${x.rounds} rounds (median over rounds, min-max)`,
      )
    }
    const runs = x.loaderRuns.map((r) => (r / x.keys).toFixed(2)).join(', ')
    const f = (v) => v.toFixed(2)
    const wake = x.wakeMs === null ? '' : `  wake ${f(x.wakeMs)} (${f(x.wakeMsRange[0])}-${f(x.wakeMsRange[1])}) ms, p99 ${f(x.wakeP99Ms)}`
    rows.push(
      `  ${x.impl.padEnd(11)} loader runs per key ${runs}; wrong ${x.wrong}; latency ${f(x.latencyMs)} ` +
        `(${f(x.latencyMsRange[0])}-${f(x.latencyMsRange[1])}) ms, p99 ${f(x.p99Ms)}${wake}`,
    )
  }
  return rows.join('\n')
}
