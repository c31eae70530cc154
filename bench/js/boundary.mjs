// node bench/js/boundary.mjs [flags]: what one ThreadMap operation costs
// against the Node-API floor and against Map, lmdb-js and sharedmap, and the
// bytes per entry (suites/boundary.mjs says what each group measures).
// Compiles nothing: run `npm run build:ts` first (or `npm run bench` once).
//
//   --groups=call,strings,numbers,peers,memory   which groups
//   --strategy=auto     the ThreadMap strategy
//   --size=1000000      keys of the large groups
//   --samples=9 --sample-ms=150 --warmup-ms=200
//   --quick             100,000 keys, 3 samples of 60 ms (a smoke run)
//   --json=FILE         also write every figure as JSON

import fs from 'node:fs'
import os from 'node:os'

import { describeMachine } from './lib/machine.mjs'
import { sink } from './lib/measure.mjs'
import { createProgress } from './lib/progress.mjs'
import { loadThreadMap } from './lib/threadmap.mjs'
import { BOUNDARY_GROUPS, boundarySteps, runBoundary } from './suites/boundary.mjs'

function parse(argv) {
  const o = { groups: BOUNDARY_GROUPS, strategy: 'auto', bigSize: 1_000_000, samples: 9, sampleMs: 150, warmupMs: 200, seed: 1, json: null }
  for (const arg of argv) {
    if (arg === '--quick') {
      Object.assign(o, { bigSize: 100_000, samples: 3, sampleMs: 60, warmupMs: 60 })
      continue
    }
    const m = /^--([a-z-]+)=(.*)$/.exec(arg)
    if (!m) throw new Error(`unknown argument ${arg} (see the top of bench/js/boundary.mjs)`)
    const [, k, v] = m
    if (k === 'groups') o.groups = v.split(',')
    else if (k === 'strategy') o.strategy = v
    else if (k === 'size') o.bigSize = Number(v)
    else if (k === 'samples') o.samples = Number(v)
    else if (k === 'sample-ms') o.sampleMs = Number(v)
    else if (k === 'warmup-ms') o.warmupMs = Number(v)
    else if (k === 'seed') o.seed = Number(v)
    else if (k === 'json') o.json = v
    else throw new Error(`unknown flag --${k}`)
  }
  for (const g of o.groups) if (!BOUNDARY_GROUPS.includes(g)) throw new Error(`unknown group ${g} (${BOUNDARY_GROUPS.join(', ')})`)
  return o
}

const fmt = (ns) => (ns >= 100 ? ns.toFixed(0) : ns >= 10 ? ns.toFixed(1) : ns.toFixed(2))

function timingTable(rows) {
  const byName = new Map(rows.map((r) => [`${r.impl} ${r.op}`, r]))
  const base = rows.find((r) => r.baseline)
  const lines = rows.map((r) => {
    const ref = byName.get(r.vs ?? '') ?? base
    let ratio = ''
    if (ref && ref !== r) {
      const x = ref.nsPerOp / r.nsPerOp
      ratio = x >= 1 ? `${x.toFixed(2)}x faster than ${ref.impl} ${ref.op}` : `${(1 / x).toFixed(2)}x the time of ${ref.impl} ${ref.op}`
    }
    return [`${r.impl} ${r.op}`, `${fmt(r.nsPerOp)} (${fmt(r.min)}-${fmt(r.max)})`, ratio]
  })
  const w = [0, 1].map((i) => Math.max(...lines.map((l) => l[i].length)))
  return lines.map((l) => `  ${l[0].padEnd(w[0])}  ${l[1].padStart(w[1])} ns  ${l[2]}`).join('\n')
}

function memoryTable(rows) {
  const base = rows.find((r) => r.baseline)?.memory
  const total = (m) => m.rssBytesPerEntry
  return rows
    .map((r) => {
      const m = r.memory
      const native = m.nativeBytesPerEntry === null ? '' : `, native ${m.nativeBytesPerEntry.toFixed(1)}`
      const ratio = base && r.memory !== base ? `  RSS ${(total(m) / total(base)).toFixed(2)}x Map's, heap growth ${((100 * m.heapBytesPerEntry) / base.heapBytesPerEntry).toFixed(2)}% of Map's` : ''
      return `  ${r.impl.padEnd(28)} heap ${m.heapBytesPerEntry.toFixed(1).padStart(6)}  RSS ${m.rssBytesPerEntry.toFixed(1).padStart(6)} B/entry${native}${ratio}`
    })
    .join('\n')
}

async function main() {
  const opts = parse(process.argv.slice(2))
  const ThreadMap = loadThreadMap()
  const machine = describeMachine()
  const strategy = new ThreadMap(null, { strategy: opts.strategy })
  const resolved = strategy.strategy
  strategy.close()
  console.log('threadmap boundary benchmark: per-operation cost against the Node-API floor')
  console.log(`machine   ${machine.cpu}, ${machine.cores} cores${machine.virtualization ? ` (${machine.virtualization})` : ''}, ${machine.memoryGiB} GiB, Node ${machine.node}`)
  console.log(`date      ${machine.date}   load average ${machine.loadavg.join(' ')}`)
  console.log(`method    strategy ${opts.strategy} (${resolved}); median of ${opts.samples} interleaved samples of ${opts.sampleMs} ms (min-max); string keys "user:" + 8 hex, number keys unique integers < 2^32 and (numbers group) also 0..n-1, number values, probes in random order`)
  const results = []
  const notes = []
  const bar = createProgress().bar('boundary', boundarySteps(opts))
  await runBoundary(opts, (r) => results.push(r), bar, notes)
  bar.end()
  for (const g of opts.groups) {
    const rows = results.filter((r) => r.group === g)
    const size = rows[0]?.size.toLocaleString('en-US')
    console.log(`\n${g}: ${size} ${rows[0]?.keyType} keys`)
    console.log(g === 'memory' ? memoryTable(rows) : timingTable(rows))
  }
  for (const n of notes) console.log(`note: ${n}`)
  const end = os.loadavg().map((x) => x.toFixed(2))
  console.log(`\nload average at the end ${end.join(' ')} (checksum ${sink.value})`)
  if (opts.json) fs.writeFileSync(opts.json, `${JSON.stringify({ machine, opts, results, notes, loadavgEnd: end }, null, 1)}\n`)
}

main().catch((err) => {
  console.error(`boundary bench failed: ${err && err.stack ? err.stack : err}`)
  process.exit(1)
})
