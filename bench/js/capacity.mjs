// node bench/js/capacity.mjs [entries=50000000] [strategy=auto]: fills one
// ThreadMap with `entries` 'key:' + i -> i entries (string keys, number
// values) in a fresh process and reports RSS per entry, then shows where V8's
// Map stops (it throws a RangeError at 2^24 entries). Each fill runs in its
// own process (suites/memory-child.mjs), so the figures are that map's alone.
// Needs memory: about 2 GB for 50M entries in a ThreadMap, 2 GB of V8 heap
// for the Map (run with enough --max-old-space-size; set below).

import { execFileSync } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { describeMachine } from './lib/machine.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const child = path.join(here, 'suites', 'memory-child.mjs')
const entries = Number(process.argv[2] ?? 50_000_000)
const strategy = process.argv[3] ?? 'auto'

function fill(impl, n, extra = []) {
  const out = execFileSync(process.execPath, ['--expose-gc', ...extra, child, impl, String(n), strategy, 'grown'], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  })
  return JSON.parse(out.trim())
}

const m = describeMachine()
console.log(`capacity: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.date}, load average ${m.loadavg.join(' ')}`)
const t = fill('threadmap', entries)
console.log(
  `ThreadMap (${t.strategy}): ${t.entries.toLocaleString('en-US')} entries in ${t.seconds.toFixed(1)} s; ` +
    `RSS ${t.rssMB.toFixed(0)} MiB, ${t.rssBytesPerEntry.toFixed(1)} B/entry of RSS growth, ` +
    `${t.nativeBytesPerEntry.toFixed(1)} B/entry in the map's own accounting (capacity ${t.capacity.toLocaleString('en-US')} slots), ` +
    `V8 heap growth ${t.heapBytesPerEntry.toFixed(2)} B/entry`,
)
// 2^24 + 1 entries: one more than a Map can hold.
const mp = fill('map', 2 ** 24 + 1, ['--max-old-space-size=8192'])
console.log(
  `Map: stopped at ${mp.entries.toLocaleString('en-US')} entries (${mp.error ?? 'no error'}); ` +
    `${mp.rssBytesPerEntry.toFixed(1)} B/entry of RSS growth, V8 heap ${mp.heapBytesPerEntry.toFixed(1)} B/entry, in ${mp.seconds.toFixed(1)} s`,
)
console.log(`load average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`)
