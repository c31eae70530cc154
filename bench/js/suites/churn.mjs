// GC and event-loop pauses under churn: V8's Map against ThreadMap (each
// selected strategy), each in a child process of its own (churn-child.mjs),
// run in rounds with the order rotated. Figures are per contender, the median
// over rounds for each field.

import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { median } from '../lib/measure.mjs'

const child = fileURLToPath(new URL('./churn-child.mjs', import.meta.url))

function runChild(impl, strategy, opts) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', child, impl, strategy ?? '-', String(opts.churnWindow), String(opts.churnOps)],
      { maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`churn ${impl} ${strategy ?? ''}: ${stderr || err.message}`))
        else resolve(JSON.parse(stdout.trim().split('\n').pop()))
      },
    )
  })
}

export function churnSteps(opts) {
  return (1 + opts.strategies.length) * opts.churnRounds
}

const medianOf = (runs, get) => median(runs.map(get))

export async function runChurn(opts, record, bar) {
  const contenders = [{ impl: 'map', strategy: null }, ...opts.strategies.map((s) => ({ impl: 'threadmap', strategy: s }))]
  const runs = contenders.map(() => [])
  for (let round = 0; round < opts.churnRounds; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const i = (round + k) % contenders.length
      const c = contenders[i]
      bar.label(`${c.impl === 'map' ? 'Map' : `ThreadMap ${c.strategy}`} (round ${round + 1}/${opts.churnRounds})`)
      runs[i].push(await runChild(c.impl, c.strategy, opts))
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
