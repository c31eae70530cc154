// One churn measurement in a process of its own (started by suites/churn.mjs
// with --expose-gc), so heap and RSS figures belong to one contender only.
//
//   argv: impl ('map' | 'threadmap'), strategy, window, ops, numa (the
//         ThreadMap numa option as JSON), cpu (to pin this thread to, or '-')
//
// 1. Fill: `window` entries (string keys "churn:<i>", number values), then a
//    full GC: bytes per entry = growth of V8's used heap / window, plus for a
//    ThreadMap its own accounting (stats().bytes / window) and RSS growth.
// 2. Churn: `ops` operations, each pair a set of a new key and a delete of the
//    oldest, so `window` entries stay live while millions pass through. The
//    work runs in slices of 4,096 operations, one per event-loop turn, so
//    monitorEventLoopDelay sees how long each turn, GC included, held the loop.
//    GC pauses come from perf_hooks 'gc' entries during the churn.
// Prints one JSON line, with the ThreadMap's stats().numa and, when pinned,
// what numa.currentCpu() said before the fill and after the churn.

import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks'

import { collectGarbage as gcNow, memorySample as mem } from '../lib/measure.mjs'
import { checkCpu, pinSelf } from '../lib/placement.mjs'
import { loadNuma, loadThreadMap } from '../lib/threadmap.mjs'

const [impl, strategy, windowArg, opsArg, numaArg, cpuArg] = process.argv.slice(2)
const W = Number(windowArg)
const OPS = Number(opsArg)
const SLICE = 4096
const numa = loadNuma()
const cpu = cpuArg === '-' ? null : Number(cpuArg)
const who = `churn child (${impl === 'map' ? 'Map' : strategy})`
const seen = cpu === null ? [] : [pinSelf(numa, cpu, who)]

let map
if (impl === 'map') map = new Map()
else map = new (loadThreadMap())(null, { keys: 'string', values: 'number', strategy, numa: JSON.parse(numaArg) })

gcNow()
const before = mem()
for (let i = 0; i < W; i++) map.set(`churn:${i}`, i)
gcNow()
const filled = mem()
const nativeBytes = impl === 'map' ? null : map.stats().bytes

const gcs = []
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs.push(e.duration)
})
obs.observe({ entryTypes: ['gc'] })
const loop = monitorEventLoopDelay({ resolution: 1 })
loop.enable()

let next = W // next key to insert; next - W is the oldest live key
let done = 0
let checksum = 0
const t0 = process.hrtime.bigint()
await new Promise((resolve) => {
  const slice = () => {
    const end = Math.min(done + SLICE, OPS)
    for (; done < end; done += 2) {
      map.set(`churn:${next}`, next)
      if (!map.delete(`churn:${next - W}`)) throw new Error(`churn: key ${next - W} was missing`)
      next++
    }
    checksum += map.size
    if (done < OPS) setImmediate(slice)
    else resolve()
  }
  setImmediate(slice)
})
const ns = Number(process.hrtime.bigint() - t0)
loop.disable()
await new Promise((r) => setTimeout(r, 20)) // let the observer deliver the last entries
obs.disconnect()
const after = mem()
if (map.size !== W) throw new Error(`churn: ${map.size} entries at the end, expected ${W}`)
if (cpu !== null) seen.push(checkCpu(numa, cpu, who))

const ms = (nsv) => nsv / 1e6
console.log(
  JSON.stringify({
    impl,
    strategy: impl === 'map' ? null : strategy,
    window: W,
    ops: OPS,
    nsPerOp: ns / OPS,
    bytesPerEntry: {
      heap: (filled.heap - before.heap) / W,
      rss: (filled.rss - before.rss) / W,
      native: nativeBytes === null ? null : nativeBytes / W,
    },
    gc: {
      count: gcs.length,
      totalMs: gcs.reduce((a, b) => a + b, 0),
      maxMs: gcs.length ? Math.max(...gcs) : 0,
    },
    loopDelayMs: {
      p50: ms(loop.percentile(50)),
      p99: ms(loop.percentile(99)),
      max: ms(loop.max),
    },
    growthMB: {
      heap: (after.heap - before.heap) / 2 ** 20,
      rss: (after.rss - before.rss) / 2 ** 20,
    },
    checksum,
    numa: impl === 'map' ? null : map.stats().numa,
    seen,
  }),
)
if (impl !== 'map') map.close()
