// npm run bench [-- flags]: ThreadMap against V8's Map, single-thread and
// across worker_threads, printed side by side as ratios measured in this run.
// See bench/js/lib/args.mjs for the flags (--quick for a ~10 s smoke run).
//
// Layout, so suites can be added without touching the rest:
//   lib/args.mjs      flags          lib/keys.mjs     deterministic workloads
//   lib/measure.mjs   timing, sink   lib/machine.mjs  what it ran on
//   lib/report.mjs    text + JSON    lib/threadmap.mjs loading the package
//   suites/*.mjs      one file per suite: run<Name>(opts, record, progress)

import { USAGE, parseArgs } from './lib/args.mjs'
import { describeMachine } from './lib/machine.mjs'
import { sink } from './lib/measure.mjs'
import { header, singleTable, workersTable, writeJson } from './lib/report.mjs'
import { loadThreadMap } from './lib/threadmap.mjs'
import { runSingle } from './suites/single.mjs'
import { runWorkers } from './suites/workers.mjs'

async function main() {
  let opts
  try {
    opts = parseArgs(process.argv.slice(2))
  } catch (err) {
    console.error(err.message)
    process.exit(2)
  }
  if (opts.help) {
    console.log(USAGE)
    return
  }
  loadThreadMap() // fail early with a clear message

  const machine = describeMachine()
  console.log(header(machine, opts))
  const started = Date.now()
  const results = []
  const record = (r) => results.push(r)
  const progress = process.stderr.isTTY
    ? (msg) => process.stderr.write(`\r\x1b[K  ${msg}`)
    : () => {}

  if (opts.suites.includes('single')) {
    await runSingle(opts, record, progress)
    progress('')
    console.log(`\n${singleTable(results.filter((r) => r.suite === 'single'))}`)
  }
  if (opts.suites.includes('workers')) {
    await runWorkers(opts, record, progress)
    progress('')
    console.log(`\n${workersTable(results.filter((r) => r.suite === 'workers'))}`)
  }

  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  console.log(`\n${results.length} figures in ${seconds} s (checksum ${sink.value})`)
  if (opts.json) {
    writeJson(opts.json, machine, opts, results)
    console.log(`wrote ${opts.json}`)
  }
}

main().catch((err) => {
  console.error(`\nbench failed: ${err && err.stack ? err.stack : err}`)
  process.exit(1)
})
