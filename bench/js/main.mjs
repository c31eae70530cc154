// npm run bench [-- flags]: ThreadMap against V8's Map and the shareable
// alternatives (lmdb-js, sharedmap, message passing to an owning thread),
// single-thread, across worker_threads, and under churn (GC and event-loop
// pauses, bytes per entry). Every comparison is measured side by side in this
// run and printed as a ratio beside the absolute figure. See lib/args.mjs for
// the flags (--quick for the ~15 s smoke run CI uses).
//
// Output: tables on stdout; under --out (default bench/results, git-ignored)
// js-<date>.json (every figure, the machine, the options), js-<date>.md (a
// Markdown summary) and js-<date>-*.svg charts (lib/charts.mjs).
//
// Layout, so suites can be added without touching the rest:
//   lib/args.mjs      flags          lib/keys.mjs      deterministic workloads
//   lib/measure.mjs   timing, sink   lib/machine.mjs   what it ran on
//   lib/report.mjs    text, Markdown, JSON              lib/charts.mjs SVG charts
//   lib/threadmap.mjs loading the package               lib/peers.mjs  the alternatives
//   lib/progress.mjs  progress bars     lib/placement.mjs --numa, --pin and what they got
//   suites/*.mjs      one file per suite: run<Name>(opts, record, bar, notes, placement)

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { SUITES, USAGE, parseArgs } from './lib/args.mjs'
import { renderCharts } from './lib/charts.mjs'
import { describeMachine } from './lib/machine.mjs'
import { sink } from './lib/measure.mjs'
import { PEERS, peerVersion } from './lib/peers.mjs'
import { checkCpu, createPlacement, numaLabel } from './lib/placement.mjs'
import { createProgress } from './lib/progress.mjs'
import { churnTable, header, markdownSummary, singleTable, workersTable, writeJson } from './lib/report.mjs'
import { distPath, loadNuma, loadThreadMap } from './lib/threadmap.mjs'
import { churnSteps, runChurn } from './suites/churn.mjs'
import { hitRatioSteps, hitRatioTable, runHitRatio } from './suites/hitratio.mjs'
import { cacheSteps, cacheTable, runCache } from './suites/cache.mjs'
import { fetchSteps, fetchTable, runFetch } from './suites/fetch.mjs'
import { runSingle } from './suites/single.mjs'
import { objectsSteps, objectsTable, runObjects } from './suites/objects.mjs'
import { rangesSteps, rangesTable, runRanges } from './suites/ranges.mjs'
import { runWatch, watchSteps, watchTable } from './suites/watch.mjs'
import { runWorkers, workersSteps } from './suites/workers.mjs'

function singleSteps(opts) {
  return opts.sizes.length * opts.ops.length
}

// The library judges a NUMA option (a node that does not exist is a
// RangeError naming those that do): ask it once, before anything runs.
function checkNuma(numa) {
  const ThreadMap = loadThreadMap()
  try {
    new ThreadMap(null, { numa }).close()
  } catch (err) {
    throw new Error(`--numa ${numaLabel(numa)}: ${err.name}: ${err.message}`)
  }
}

async function main() {
  loadThreadMap() // fail early with a clear message
  const { STRATEGIES } = createRequire(import.meta.url)(distPath)
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length
  let opts
  try {
    opts = parseArgs(process.argv.slice(2), { strategies: STRATEGIES, cores })
  } catch (err) {
    console.error(err.message)
    process.exit(2)
  }
  if (opts.help) {
    console.log(USAGE)
    return
  }
  opts.argv = process.argv.slice(2)
  // Before pinning: the machine's cores, not the pinned thread's one CPU.
  const machine = describeMachine()
  try {
    checkNuma(opts.numa)
  } catch (err) {
    console.error(err.message)
    process.exit(2)
  }
  const numa = loadNuma()
  let placement
  try {
    placement = createPlacement(numa, opts) // pins the main thread under --pin
  } catch (err) {
    console.error(`--pin${Array.isArray(opts.pin) ? ` ${opts.pin.join(',')}` : ''}: ${err.name}: ${err.message}`)
    process.exit(2)
  }
  // The main thread runs the single suite and fills the shared maps: check
  // after every suite that it is still where it was pinned.
  const checkMain = () => {
    if (placement.pin) placement.saw('main thread', placement.cpuFor(0), checkCpu(numa, placement.cpuFor(0), 'main thread'))
  }

  machine.peers = Object.fromEntries(PEERS.filter((p) => opts.peers.includes(p)).map((p) => [p, peerVersion(p)]))
  console.log(header(machine, opts, placement))
  const started = Date.now()
  const results = []
  const notes = []
  const record = (r) => results.push(r)
  const progress = createProgress()

  // What each suite of SUITES (lib/args.mjs, which also gives the order)
  // needs here: its step count for the progress bar, how to run it, and its
  // table.
  const suites = {
    single: { steps: singleSteps, run: runSingle, table: singleTable },
    workers: {
      steps: workersSteps,
      run: runWorkers,
      table: workersTable,
      after: (rows) => {
        const retried = rows.reduce((a, r) => a + r.retries, 0)
        if (retried) notes.push(`${retried} workers runs had a thread waiting for a CPU over 20% of the window and were run again (--retry-starved=${opts.retryStarved})`)
      },
    },
    objects: { steps: objectsSteps, run: runObjects, table: objectsTable },
    churn: { steps: churnSteps, run: runChurn, table: churnTable },
    hitratio: { steps: hitRatioSteps, run: runHitRatio, table: hitRatioTable },
    fetch: { steps: fetchSteps, run: runFetch, table: fetchTable },
    cache: { steps: cacheSteps, run: runCache, table: cacheTable },
    ranges: { steps: rangesSteps, run: runRanges, table: rangesTable },
    watch: { steps: watchSteps, run: runWatch, table: watchTable },
  }
  for (const name of SUITES) {
    const suite = suites[name]
    if (suite === undefined) throw new Error(`bench/js/main.mjs has no runner for the suite ${name}`)
    if (!opts.suites.includes(name)) continue
    const bar = progress.bar(name, suite.steps(opts))
    await suite.run(opts, record, bar, notes, placement)
    bar.end()
    checkMain()
    const rows = results.filter((r) => r.suite === name)
    console.log(`\n${suite.table(rows)}`)
    suite.after?.(rows)
  }
  console.log(`\n${placement.lines().join('\n')}`)
  for (const n of notes) console.log(`note: ${n}`)

  machine.loadavgEnd = os.loadavg().map((x) => Number(x.toFixed(2)))
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  console.log(
    `\n${results.length} figures in ${seconds} s; load average at the end ${machine.loadavgEnd.join(' ')} (checksum ${sink.value})`,
  )

  fs.mkdirSync(opts.out, { recursive: true })
  const stamp = machine.date.replace(/[:.]/g, '-').replace(/-\d+Z$/, 'Z')
  const base = path.join(opts.out, `js-${stamp}`)
  writeJson(`${base}.json`, machine, opts, results, notes, placement)
  if (opts.json) writeJson(opts.json, machine, opts, results, notes, placement)
  let charts = []
  if (opts.charts) {
    try {
      charts = await renderCharts({ js: { results } }, opts.out, `js-${stamp}-`)
    } catch (err) {
      notes.push(`charts not rendered: ${err.message}`)
      console.log(`note: charts not rendered: ${err.message}`)
    }
  }
  fs.writeFileSync(`${base}.md`, markdownSummary(machine, opts, results, notes, charts, placement))
  console.log(`wrote ${base}.json, ${base}.md${charts.length ? ` and ${charts.length} SVG charts` : ''}`)
}

main().catch((err) => {
  console.error(`\nbench failed: ${err && err.stack ? err.stack : err}`)
  process.exit(1)
})
