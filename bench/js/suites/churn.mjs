// GC and event-loop pauses under churn: V8's Map against ThreadMap (each
// selected strategy), each in a child process of its own (churn-child.mjs),
// run in rounds with the order rotated. Figures are per contender, the median
// over rounds for each field. Each child gets the run's numa option (--numa)
// and, under --pin, the CPU of the run's thread 0, and reports its ThreadMap's
// placement and what numa.currentCpu() said.

import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { median } from '../lib/measure.mjs'

const child = fileURLToPath(new URL('./churn-child.mjs', import.meta.url))

function runChild(impl, strategy, opts, placement) {
  const cpu = placement.cpuFor(0)
  const args = [
    '--expose-gc',
    child,
    impl,
    strategy ?? '-',
    String(opts.churnWindow),
    String(opts.churnOps),
    JSON.stringify(opts.numa),
    cpu === null ? '-' : String(cpu),
  ]
  return new Promise((resolve, reject) => {
    placement.unpinnedWhile(() =>
      execFile(process.execPath, args, { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`churn ${impl} ${strategy ?? ''}: ${stderr || err.message}`))
        else resolve(JSON.parse(stdout.trim().split('\n').pop()))
      }),
    )
  })
}

export function churnSteps(opts) {
  return (1 + opts.strategies.length) * opts.churnRounds
}

const medianOf = (runs, get) => median(runs.map(get))

export async function runChurn(opts, record, bar, notes, placement) {
  const contenders = [{ impl: 'map', strategy: null }, ...opts.strategies.map((s) => ({ impl: 'threadmap', strategy: s }))]
  const runs = contenders.map(() => [])
  for (let round = 0; round < opts.churnRounds; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const i = (round + k) % contenders.length
      const c = contenders[i]
      bar.label(`${c.impl === 'map' ? 'Map' : `ThreadMap ${c.strategy}`} (round ${round + 1}/${opts.churnRounds})`)
      const r = await runChild(c.impl, c.strategy, opts, placement)
      if (r.numa) placement.addMap('churn', c.strategy, r.numa)
      if (placement.pin) {
        const who = `churn child (${c.impl === 'map' ? 'Map' : c.strategy})`
        for (const seen of r.seen) placement.saw(who, placement.cpuFor(0), seen)
      }
      runs[i].push(r)
      bar.tick()
    }
  }
  contenders.forEach((c, i) => {
    const r = runs[i]
    record({
      suite: 'churn',
      impl: c.impl === 'map' ? 'Map' : `ThreadMap ${c.strategy}`,
      strategy: c.strategy,
      baseline: c.impl === 'map',
      window: opts.churnWindow,
      ops: opts.churnOps,
      nsPerOp: medianOf(r, (x) => x.nsPerOp),
      bytesPerEntry: {
        heap: medianOf(r, (x) => x.bytesPerEntry.heap),
        rss: medianOf(r, (x) => x.bytesPerEntry.rss),
        native: c.impl === 'map' ? null : medianOf(r, (x) => x.bytesPerEntry.native),
      },
      gc: {
        count: medianOf(r, (x) => x.gc.count),
        totalMs: medianOf(r, (x) => x.gc.totalMs),
        maxMs: medianOf(r, (x) => x.gc.maxMs),
      },
      loopDelayMs: {
        p50: medianOf(r, (x) => x.loopDelayMs.p50),
        p99: medianOf(r, (x) => x.loopDelayMs.p99),
        max: medianOf(r, (x) => x.loopDelayMs.max),
      },
      growthMB: { heap: medianOf(r, (x) => x.growthMB.heap), rss: medianOf(r, (x) => x.growthMB.rss) },
      rounds: r,
    })
  })
}
