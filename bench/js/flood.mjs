// node bench/js/flood.mjs [flags]: hash flooding through the JavaScript API.
// Builds, in JavaScript, the printable string keys that all shared one hash
// under threadmap's old unkeyed hash (the swap chain of
// bench/native/flood_keys.hpp: the old block step is symmetric in its two
// factors, so blocks (A, B) and (B ^ c, A ^ c), c = h ^ k1 ^ k2, leave the same
// state), plus a generic flood (one long prefix, lengths 24-279), and times
// `set` then `get` of every key on every strategy and on V8's Map, against
// random printable keys of the same lengths. Each run uses a fresh map; flood
// and random runs alternate; the best of --rounds is kept (the figure least
// disturbed by other processes). A phase that passes --budget-ms stops and
// says how far it got. Compiles nothing: run `npm run build:ts` first.
//
//   --keys=16384     keys per set (the swap chain rounds up to a power of two)
//   --rounds=3
//   --budget-ms=5000
//   --strategies=LIST   default: every strategy of the addon
//   --json=FILE

import fs from 'node:fs'
import { createRequire } from 'node:module'

import { describeMachine } from './lib/machine.mjs'
import { distPath, loadThreadMap } from './lib/threadmap.mjs'

const M64 = (1n << 64n) - 1n
const K0 = 0x9e3779b97f4a7c15n
const K1 = 0xbf58476d1ce4e5b9n
const K2 = 0x94d049bb133111ebn
const K3 = 0xd6e8feb86659fd93n

const fold = (a, b) => {
  const r = a * b
  return (r & M64) ^ (r >> 64n)
}
const step = (h, a, b) => h ^ fold(a ^ K1, b ^ h ^ K2)

// A deterministic generator (xorshift64*), so every run builds the same keys.
function rng(seed) {
  let s = BigInt(seed) | 1n
  return () => {
    s ^= s >> 12n
    s ^= (s << 25n) & M64
    s ^= s >> 27n
    return Number(((s * 0x2545f4914f6cdd1dn) & M64) >> 32n)
  }
}

const printable = (x) => x >= 0x20 && x <= 0x7e

/** A random printable word whose xor with c is printable too, or null. */
function printablePair(c, next) {
  let w = 0n
  for (let j = 0; j < 8; j++) {
    const cj = Number((c >> BigInt(8 * j)) & 0xffn)
    const choices = []
    for (let x = 0x20; x <= 0x7e; x++) if (printable(x ^ cj)) choices.push(x)
    if (choices.length === 0) return null
    w |= BigInt(choices[next() % choices.length]) << BigInt(8 * j)
  }
  return w
}

const printableWord = (next) => {
  let w = 0n
  for (let j = 0; j < 8; j++) w |= BigInt(0x20 + (next() % 95)) << BigInt(8 * j)
  return w
}

const wordString = (w) => {
  let s = ''
  for (let j = 0; j < 8; j++) s += String.fromCharCode(Number((w >> BigInt(8 * j)) & 0xffn))
  return s
}

/** 2^bits printable strings with one old hash (the old hash of their UTF-8 bytes). */
export function swapChainKeys(bits) {
  const next = rng(1)
  for (const steer of [0, 1]) {
    const n = 16 * (bits + steer) + 16
    let h = K0 ^ ((BigInt(n) * K3) & M64)
    let prefix = ''
    if (steer) {
      for (;;) {
        const a = printableWord(next)
        const b = printableWord(next)
        const after = step(h, a, b)
        if (printablePair(after ^ K1 ^ K2, next) !== null) {
          prefix = wordString(a) + wordString(b)
          h = after
          break
        }
      }
    } else if (printablePair(h ^ K1 ^ K2, next) === null) {
      continue
    }
    const blocks = []
    for (let i = 0; i < bits; i++) {
      const c = h ^ K1 ^ K2
      for (;;) {
        const a = printablePair(c, next)
        const b = printablePair(c, next)
        const after = step(h, a, b)
        if (i + 1 === bits || printablePair(after ^ K1 ^ K2, next) !== null) {
          blocks.push([wordString(a) + wordString(b), wordString(b ^ c) + wordString(a ^ c)])
          h = after
          break
        }
      }
    }
    const keys = []
    for (let m = 0; m < 2 ** bits; m++) {
      let k = prefix
      for (let i = 0; i < bits; i++) k += blocks[i][(m >> i) & 1]
      keys.push(k + 'abcdefghijklmnop')
    }
    return keys
  }
  throw new Error('no steering block found')
}

function prefixKeys(count) {
  const digits = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_'
  const prefix = 'https://example.com/api/v1/items?sort=asc&page='.repeat(7)
  const keys = []
  for (let i = 0; i < count; i++) {
    const len = 24 + ((i * 7) % 256)
    let k = prefix.slice(0, len - 6)
    for (let d = 0, v = i; d < 6; d++, v = Math.floor(v / 64)) k += digits[v % 64]
    keys.push(k)
  }
  return keys
}

function randomLike(keys, seed) {
  const next = rng(seed)
  return keys.map((k) => {
    let s = ''
    for (let i = 0; i < k.length; i++) s += String.fromCharCode(0x20 + (next() % 95))
    return s
  })
}

function parse(argv, strategies) {
  const o = { keys: 16384, rounds: 3, budgetMs: 5000, strategies, json: null }
  for (const arg of argv) {
    const m = /^--([a-z-]+)=(.*)$/.exec(arg)
    if (!m) throw new Error(`unknown argument ${arg} (see the top of bench/js/flood.mjs)`)
    const [, k, v] = m
    if (k === 'keys') o.keys = Number(v)
    else if (k === 'rounds') o.rounds = Math.max(1, Number(v))
    else if (k === 'budget-ms') o.budgetMs = Number(v)
    else if (k === 'strategies') o.strategies = v.split(',')
    else if (k === 'json') o.json = v
    else throw new Error(`unknown flag --${k}`)
  }
  for (const s of o.strategies) if (!strategies.includes(s)) throw new Error(`unknown strategy ${s}`)
  if (!(o.keys >= 16 && o.keys <= 1 << 20)) throw new Error('--keys is 16..1048576')
  return o
}

// CPU time of this process, so the wait for a CPU on a loaded machine is not
// counted (the bench is single-threaded).
const cpuNs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) * 1000
}

function oneRun(make, keys, budgetMs) {
  const m = make()
  const budget = budgetMs * 1e6
  let t0 = cpuNs()
  let inserted = 0
  let truncated = false
  for (let i = 0; i < keys.length; i++) {
    m.set(keys[i], i)
    inserted++
    if ((i & 255) === 255 && cpuNs() - t0 > budget) {
      truncated = true
      break
    }
  }
  const insertNs = (cpuNs() - t0) / inserted
  t0 = cpuNs()
  let got = 0
  let found = 0
  for (let i = 0; i < inserted; i++) {
    if (m.get(keys[i]) === i) found++
    got++
    if ((i & 255) === 255 && cpuNs() - t0 > budget) {
      truncated = true
      break
    }
  }
  const getNs = (cpuNs() - t0) / got
  const resizes = typeof m.stats === 'function' ? m.stats().resizes : null
  if (typeof m.close === 'function') m.close()
  if (found !== got) throw new Error(`${got - found} of ${got} keys not read back`)
  return { insertNs, getNs, inserted, resizes, truncated }
}

function main() {
  const ThreadMap = loadThreadMap()
  const { STRATEGIES } = createRequire(import.meta.url)(distPath)
  const o = parse(process.argv.slice(2), STRATEGIES)
  const machine = describeMachine()
  let bits = 0
  while (2 ** bits < o.keys) bits++
  const t = Date.now()
  const chain = swapChainKeys(bits)
  const buildMs = Date.now() - t
  const sets = [
    { name: 'swap-chain', flood: chain },
    { name: 'prefix', flood: prefixKeys(o.keys) },
  ]
  for (const [i, s] of sets.entries()) s.random = randomLike(s.flood, 100 + i)
  const contenders = [
    ...o.strategies.map((s) => ({ name: s, make: () => new ThreadMap(null, { keys: 'string', values: 'number', strategy: s }) })),
    { name: 'Map', make: () => new Map() },
  ]
  console.log(`threadmap JS hash-flooding bench, ${machine.cpu ?? ''} ${new Date().toISOString()}`)
  console.log(
    `swap chain: ${chain.length} printable keys of ${chain[0].length} characters built in ${buildMs} ms; prefix: ${o.keys} keys of 24-279 characters; ` +
      `a fresh map per run, set then get of every key, process CPU time per key, best of ${o.rounds}; a phase stops after ${o.budgetMs} ms`,
  )
  const pad = (s, n) => String(s).padStart(n)
  console.log(`${'contender'.padEnd(11)} ${'keys'.padEnd(10)} ${pad('set flood', 10)} ${pad('set rand', 9)} ${pad('ratio', 8)} ${pad('get flood', 10)} ${pad('get rand', 9)} ${pad('ratio', 8)} ${pad('resizes', 9)}`)
  const results = []
  for (const c of contenders) {
    for (const s of sets) {
      const f = []
      const r = []
      let truncated = false
      let floodInserted = s.flood.length
      for (let round = 0; round < o.rounds; round++) {
        for (const which of [0, 1]) {
          const flood = (which + round) % 2 === 0
          const run = oneRun(c.make, flood ? s.flood : s.random, o.budgetMs)
          ;(flood ? f : r).push(run)
          truncated ||= run.truncated
          if (flood) floodInserted = Math.min(floodInserted, run.inserted)
        }
      }
      const best = (runs, k) => Math.min(...runs.map((x) => x[k]))
      const row = {
        contender: c.name,
        keys: s.name,
        setNsFlood: best(f, 'insertNs'),
        setNsRandom: best(r, 'insertNs'),
        getNsFlood: best(f, 'getNs'),
        getNsRandom: best(r, 'getNs'),
        resizesFlood: f[0].resizes,
        resizesRandom: r[0].resizes,
        floodInserted,
        truncated,
      }
      results.push(row)
      const res = row.resizesFlood === null ? '-' : `${row.resizesFlood}/${row.resizesRandom}`
      console.log(
        `${c.name.padEnd(11)} ${s.name.padEnd(10)} ${pad(row.setNsFlood.toFixed(0), 10)} ${pad(row.setNsRandom.toFixed(0), 9)} ${pad((row.setNsFlood / row.setNsRandom).toFixed(2) + 'x', 8)} ` +
          `${pad(row.getNsFlood.toFixed(0), 10)} ${pad(row.getNsRandom.toFixed(0), 9)} ${pad((row.getNsFlood / row.getNsRandom).toFixed(2) + 'x', 8)} ${pad(res, 9)}` +
          (truncated ? `  stopped by the budget: ${floodInserted} of ${s.flood.length} flood keys` : ''),
      )
    }
  }
  console.log('(ns per key; ratio = flood / random; resizes = stats().resizes after the sets, flood/random)')
  if (o.json) fs.writeFileSync(o.json, JSON.stringify({ kind: 'threadmap-js-flood-bench', machine, options: o, results }, null, 1))
}

main()
