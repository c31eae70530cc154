// node bench/js/growth-stall.mjs [entries=16000000] [impls=map,striped,lockfree]:
// the longest single `set` while a map grows from empty to `entries`
// 'key:' + i -> i entries, for V8's Map and ThreadMap strategies, each in a
// fresh process. A growing table is rebuilt at some point: V8's Map rebuilds
// all of itself in the `set` that crosses a power of two; `striped` rebuilds
// one stripe (an eighth of the map on 2 cores); `lockfree` spreads its
// migration over the operations that follow. Every `set` is timed alone
// (performance.now() around it, about 0.1 us of overhead), and blocks of
// 1,000 sets too. Needs about 2.5 GB for the Map at 16M entries.

import { execFileSync } from 'node:child_process'
import os from 'node:os'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'

import { describeMachine } from './lib/machine.mjs'
import { loadThreadMap } from './lib/threadmap.mjs'

const self = fileURLToPath(import.meta.url)

function child(impl, n) {
  const ThreadMap = impl === 'map' ? null : loadThreadMap()
  const m = impl === 'map' ? new Map() : new ThreadMap(null, { keys: 'string', values: 'number', strategy: impl })
  let longest = 0
  let longestAt = 0
  let longestBlock = 0
  const t0 = performance.now()
  for (let i = 0; i < n; i += 1000) {
    const b = performance.now()
    for (let j = i; j < i + 1000 && j < n; j++) {
      const a = performance.now()
      m.set(`key:${j}`, j)
      const d = performance.now() - a
      if (d > longest) {
        longest = d
        longestAt = j
      }
    }
    longestBlock = Math.max(longestBlock, performance.now() - b)
  }
  const seconds = (performance.now() - t0) / 1000
  process.stdout.write(`${JSON.stringify({ impl, n, seconds, longest, longestAt, longestBlock, size: m.size })}\n`)
}

function main() {
  const n = Number(process.argv[2] ?? 16_000_000)
  const impls = (process.argv[3] ?? 'map,striped,lockfree').split(',')
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 24) throw new RangeError('entries: an integer from 1 to 2^24 (the Map limit)')
  const m = describeMachine()
  console.log(`growth stall: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.date}, load average ${m.loadavg.join(' ')}`)
  console.log(`${n.toLocaleString('en-US')} sets of new 'key:' + i -> i entries from empty, each implementation in its own process`)
  for (const impl of impls) {
    const out = execFileSync(process.execPath, ['--max-old-space-size=8192', self, '--child', impl, String(n)], { encoding: 'utf8' })
    const r = JSON.parse(out.trim())
    if (r.size !== n) throw new Error(`${impl}: ${r.size} entries after ${n} sets`)
    const name = impl === 'map' ? 'Map' : `ThreadMap ${impl}`
    console.log(
      `  ${name.padEnd(20)} ${r.seconds.toFixed(1).padStart(5)} s; longest set ${r.longest.toFixed(1).padStart(6)} ms ` +
        `(entry ${r.longestAt.toLocaleString('en-US')}); longest 1,000 sets ${r.longestBlock.toFixed(1)} ms`,
    )
  }
  console.log(`load average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`)
}

if (process.argv[2] === '--child') child(process.argv[3], Number(process.argv[4]))
else main()
