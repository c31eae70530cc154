// Ranges, one thread: a ThreadMap with strategy 'ordered' against a sorted
// JavaScript array searched by binary search, on n keys (--keys, number
// values), for ranges of `len` entries starting at a random present key.
//
//   ThreadMap ordered  for (const [k, v] of map.entries({ gte: lo, limit: len }))
//   sorted array       i = lower bound of lo (binary search), then keys[i],
//                      values[i] for len entries (two parallel arrays: the
//                      cheapest sorted structure JavaScript has, and one no
//                      other thread can read or change)
//
// Both read every key and value of the range; the figure is ns per range,
// and per entry beside it. Measured interleaved (lib/measure.mjs), both
// structures alive at once.

import { makeKeys, permutation } from '../lib/keys.mjs'
import { fresh, measureInterleaved } from '../lib/measure.mjs'
import { newThreadMap } from '../lib/threadmap.mjs'

export const RANGE_LENGTHS = [10, 100, 1000]
const STARTS = 4096 // range starts per kernel batch, cycled

export function rangesSteps(opts) {
  return opts.sizes.length * RANGE_LENGTHS.length
}

// Kernels are self-contained (lib/measure.mjs, fresh): the search is inlined.
function arrayKernel(keys, values, starts, len) {
  let sum = 0
  let count = 0
  for (let s = 0; s < starts.length; s++) {
    const k = starts[s]
    let from = 0
    let hi = keys.length
    while (from < hi) {
      const mid = (from + hi) >>> 1
      if (keys[mid] < k) from = mid + 1
      else hi = mid
    }
    const end = Math.min(keys.length, from + len)
    for (let i = from; i < end; i++) {
      if (keys[i] !== undefined) count++
      sum += values[i]
    }
  }
  return sum + count
}

function mapKernel(m, starts, len) {
  let sum = 0
  let count = 0
  for (let s = 0; s < starts.length; s++) {
    for (const [k, v] of m.entries({ gte: starts[s], limit: len })) {
      if (k !== undefined) count++
      sum += v
    }
  }
  return sum + count
}

export async function runRanges(opts, record, bar) {
  for (const n of opts.sizes) {
    const count = n.toLocaleString('en-US')
    bar.label(`${count} keys: making the map and the array`)
    const keys = makeKeys(n, opts.seed, opts.keyType)
    const sorted = [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    const values = sorted.map((_, i) => i)
    const map = newThreadMap('ordered', opts.keyType, opts.numa)
    const rank = new Map(sorted.map((k, i) => [k, i]))
    keys.forEach((k) => map.set(k, values[rank.get(k)])) // in the keys' own (random) order
    const order = permutation(n, opts.seed + 2)
    const starts = Array.from({ length: Math.min(STARTS, n) }, (_, i) => sorted[order[i]])
    // Both return the same sum for the same ranges (checked untimed).
    for (const len of RANGE_LENGTHS) {
      const a = arrayKernel(sorted, values, starts.slice(0, 16), len)
      const b = mapKernel(map, starts.slice(0, 16), len)
      if (a !== b) throw new Error(`ranges, ${count} keys, len ${len}: array ${a}, map ${b}`)
    }
    for (const len of RANGE_LENGTHS) {
      bar.label(`${count} keys: ranges of ${len}`)
      const ak = fresh(arrayKernel)
      const mk = fresh(mapKernel)
      const batch = Math.max(1, Math.min(starts.length, Math.floor(20_000 / len)))
      let cursor = 0
      const slice = () => {
        const from = cursor
        cursor = from + batch >= starts.length ? 0 : from + batch
        return starts.slice(from, from + batch)
      }
      const [arr, tm] = measureInterleaved(
        [
          {
            step: () => {
              const s = slice()
              return { ops: s.length, result: ak(sorted, values, s, len) }
            },
          },
          {
            step: () => {
              const s = slice()
              return { ops: s.length, result: mk(map, s, len) }
            },
          },
        ],
        opts,
      )
      for (const [impl, r, baseline] of [
        ['sorted array', arr, true],
        ['ThreadMap ordered', tm, false],
      ]) {
        record({ suite: 'ranges', keyType: opts.keyType, size: n, len, impl, baseline, ...r })
      }
      bar.tick(`${count} keys: ranges of ${len}`)
    }
    map.close()
  }
}

const ns = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1))

export function rangesTable(results) {
  const rows = ['Ranges, one thread: ns per range of len entries (median of samples, min-max), and per entry']
  for (const r of results) {
    const base = results.find((x) => x.baseline && x.size === r.size && x.len === r.len)
    const vs = base && r !== base ? `  (${(r.nsPerOp / base.nsPerOp).toFixed(2)}x the array's time)` : ''
    const figure = `${ns(r.nsPerOp)} (${ns(r.min)}-${ns(r.max)})`
    rows.push(
      `  ${r.size.toLocaleString('en-US').padStart(9)} keys  len ${String(r.len).padStart(4)}  ${r.impl.padEnd(18)} ${figure.padStart(28)}  ${ns(r.nsPerOp / r.len).padStart(6)} /entry${vs}`,
    )
  }
  return rows.join('\n')
}
