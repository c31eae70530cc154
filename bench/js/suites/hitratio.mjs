// Hit ratio (issue 15): the eviction policies the maps will run, beside
// lru-cache and beside Belady's optimum, on traces generated from --seed.
//
// Each trace is a sequence of key reads; every contender answers each read
// as a cache does (a hit, or a miss after which the key is inserted):
//
//   W-TinyLFU, CLOCK   the core's policies (native/core/.../detail/eviction),
//                      replayed by the lab addon's cacheSim
//                      (test/support/cachesim.hpp): the very code the maps
//                      will run, driven by the protocol the tables will follow
//   W-TinyLFU x32      the same split over 32 instances by hash, each with a
//                      32nd of the capacity, as the striped strategy will run it
//   lru-cache          lru-cache 11 (`get`, then `set` on a miss), exact LRU
//   Belady             the optimum, with bypass: on a miss, if the key is not
//                      needed before every cached key, it is not cached;
//                      otherwise the cached key needed furthest in the future
//                      goes. No policy that sees only the past can do better.
//
// Traces (N keys; --quick makes N and the lengths 5x smaller):
//   zipf-0.8 / zipf-0.99   Zipf over N keys, cache 1% and 10% of N
//   scan                   Zipf 0.99, cache 10% of N; after every 2 x cache
//                          reads a scan of as many cold keys as the cache
//                          holds, never read again
//   loop                   keys 0 .. 1.1 x cache - 1 in order, over and over
//   mix                    blocks of 1,000 reads, each from Zipf 0.9 (60%),
//                          the loop (25%) or a cold scan (15%); cache 5% of N
//
// Figures are hit ratios in percent; "gap" is Belady's minus W-TinyLFU's
// (points), "vs lru" W-TinyLFU's minus lru-cache's.

import { createRequire } from 'node:module'

import { loadLab } from '../../../native/lab/index.js'
import { rng, zipfSampler } from '../lib/keys.mjs'
import { peerVersion } from '../lib/peers.mjs'
import { table } from '../lib/report.mjs'

const require = createRequire(import.meta.url)

// --- traces ------------------------------------------------------------------

function zipfTrace(n, theta, length, seed) {
  const draw = zipfSampler(n, theta, seed)
  const t = new Uint32Array(length)
  for (let i = 0; i < length; i++) t[i] = draw()
  return t
}

function scanTrace(n, cache, length, seed) {
  const draw = zipfSampler(n, 0.99, seed)
  const t = new Uint32Array(length)
  let cold = n
  for (let i = 0; i < length; ) {
    for (let j = 0; j < 2 * cache && i < length; j++) t[i++] = draw()
    for (let j = 0; j < cache && i < length; j++) t[i++] = cold++
  }
  return t
}

function loopTrace(cache, length) {
  const span = Math.ceil(1.1 * cache)
  const t = new Uint32Array(length)
  for (let i = 0; i < length; i++) t[i] = i % span
  return t
}

function mixTrace(n, cache, length, seed) {
  const draw = zipfSampler(n, 0.9, seed)
  const pick = rng(seed ^ 0x6d2b79f5)
  const span = Math.ceil(1.2 * cache)
  const t = new Uint32Array(length)
  let loop = 0
  let cold = 2 * n
  for (let i = 0; i < length; ) {
    const u = pick() / 2 ** 32
    for (let j = 0; j < 1000 && i < length; j++) {
      if (u < 0.6) t[i++] = draw()
      else if (u < 0.85) t[i++] = n + (loop++ % span)
      else t[i++] = cold++
    }
  }
  return t
}

export function hitRatioTraces(opts) {
  const n = opts.quick ? 20_000 : 100_000
  const length = opts.quick ? 200_000 : 1_000_000
  const seed = opts.seed
  const traces = []
  for (const theta of [0.8, 0.99]) {
    const t = zipfTrace(n, theta, length, seed * 31 + Math.round(theta * 100))
    for (const share of [0.01, 0.1]) traces.push({ name: `zipf-${theta}`, keys: n, cache: Math.round(n * share), trace: t })
  }
  traces.push({ name: 'scan', keys: n, cache: n / 10, trace: scanTrace(n, n / 10, length, seed * 31 + 7) })
  traces.push({ name: 'loop', keys: n, cache: n / 100, trace: loopTrace(n / 100, length) })
  traces.push({ name: 'mix', keys: n, cache: n / 20, trace: mixTrace(n, n / 20, length, seed * 31 + 11) })
  return traces
}

// --- contenders --------------------------------------------------------------

export function lruCacheHits(trace, capacity) {
  const { LRUCache } = require('lru-cache')
  const c = new LRUCache({ max: capacity })
  let hits = 0
  for (let i = 0; i < trace.length; i++) {
    if (c.get(trace[i]) !== undefined) hits++
    else c.set(trace[i], 1)
  }
  return hits
}

// Belady's MIN with bypass. next[i] is where trace[i] is read again
// (Infinity: never); the cache is a max-heap of (next use, key) with stale
// entries skipped when they surface (a key's live entry is the one whose
// next use equals nextUse.get(key)).
export function beladyHits(trace, capacity) {
  const n = trace.length
  const next = new Float64Array(n)
  const last = new Map()
  for (let i = n - 1; i >= 0; i--) {
    next[i] = last.get(trace[i]) ?? Infinity
    last.set(trace[i], i)
  }
  const nextUse = new Map() // cached key -> its next use
  const heapAt = new Float64Array(n + 1)
  const heapKey = new Uint32Array(n + 1)
  let size = 0
  const push = (at, key) => {
    let i = size++
    while (i > 0) {
      const p = (i - 1) >> 1
      if (heapAt[p] >= at) break
      heapAt[i] = heapAt[p]
      heapKey[i] = heapKey[p]
      i = p
    }
    heapAt[i] = at
    heapKey[i] = key
  }
  const pop = () => {
    const at = heapAt[--size]
    const key = heapKey[size]
    let i = 0
    for (;;) {
      let c = 2 * i + 1
      if (c >= size) break
      if (c + 1 < size && heapAt[c + 1] > heapAt[c]) c++
      if (heapAt[c] <= at) break
      heapAt[i] = heapAt[c]
      heapKey[i] = heapKey[c]
      i = c
    }
    heapAt[i] = at
    heapKey[i] = key
  }
  let hits = 0
  for (let i = 0; i < n; i++) {
    const key = trace[i]
    if (nextUse.has(key)) {
      hits++
      nextUse.set(key, next[i])
      push(next[i], key)
      continue
    }
    if (next[i] === Infinity) continue // never read again: bypass
    if (nextUse.size >= capacity) {
      while (nextUse.get(heapKey[0]) !== heapAt[0]) pop() // stale
      if (heapAt[0] <= next[i]) continue // every cached key is needed sooner: bypass
      nextUse.delete(heapKey[0])
      pop()
    }
    nextUse.set(key, next[i])
    push(next[i], key) // at most one push a read: the heap never outgrows n
  }
  return hits
}

const NATIVE = [
  { name: 'W-TinyLFU', policy: 'wtinylfu', stripes: 1 },
  { name: 'W-TinyLFU x32', policy: 'wtinylfu', stripes: 32 },
  { name: 'CLOCK', policy: 'clock', stripes: 1 },
]

export function hitRatioSteps() {
  return 8
}

export async function runHitRatio(opts, record, bar, notes) {
  const lab = loadLab()
  for (const t of hitRatioTraces(opts)) {
    const figures = {}
    let memory = null
    for (const c of NATIVE) {
      const r = lab.cacheSim(c.policy, t.cache, t.trace, { stripes: c.stripes })
      figures[c.name] = r.hits / t.trace.length
      if (c.policy === 'wtinylfu' && c.stripes === 1) memory = r.memory
    }
    figures['lru-cache'] = lruCacheHits(t.trace, t.cache) / t.trace.length
    figures.Belady = beladyHits(t.trace, t.cache) / t.trace.length
    record({
      suite: 'hitratio',
      trace: t.name,
      keys: t.keys,
      cache: t.cache,
      length: t.trace.length,
      seed: opts.seed,
      hitRatio: figures,
      bytesPerEntry: memory.perEntry,
    })
    bar.tick()
  }
  notes.push('hit ratios: W-TinyLFU and CLOCK are the core policies replayed by the lab addon (test/support/cachesim.hpp)')
}

const pct = (x) => (100 * x).toFixed(2)
const pts = (x) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}`

export function hitRatioTable(results) {
  const rows = results.map((r) => {
    const f = r.hitRatio
    return [
      r.trace,
      `${((100 * r.cache) / r.keys).toFixed(0)}% (${r.cache.toLocaleString('en-US')})`,
      pct(f.Belady),
      pct(f['W-TinyLFU']),
      pts(f.Belady - f['W-TinyLFU']),
      pct(f['W-TinyLFU x32']),
      pct(f.CLOCK),
      pct(f['lru-cache']),
      pts(f['W-TinyLFU'] - f['lru-cache']),
    ]
  })
  const len = results[0]?.length ?? 0
  return [
    `hit ratio, % (${len.toLocaleString('en-US')} reads a trace, seed ${results[0]?.seed}; lru-cache ${peerVersion('lru-cache')}; W-TinyLFU ${results[0]?.bytesPerEntry} bytes an entry)`,
    table(
      ['trace', 'cache', 'Belady', 'W-TinyLFU', 'gap', 'W-TinyLFU x32', 'CLOCK', 'lru-cache', 'vs lru'],
      rows,
      [false, true, true, true, true, true, true, true, true],
    ),
  ].join('\n')
}
