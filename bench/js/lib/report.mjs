// Plain-text report (and JSON) of the figures gathered by the suites. Ratios
// compare figures taken in the same run only, never across runs.

import fs from 'node:fs'

const fmtInt = (n) => n.toLocaleString('en-US')
const fmtNs = (ns) => (ns >= 100 ? ns.toFixed(0) : ns >= 10 ? ns.toFixed(1) : ns.toFixed(2))
const fmtMops = (mops) => (mops >= 10 ? mops.toFixed(1) : mops.toFixed(2))
const fmtRatio = (r) => `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`

function table(headers, rows, alignRight) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (cells) =>
    cells
      .map((c, i) => (alignRight[i] ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

export function header(machine, opts) {
  const m = machine
  const lines = [
    'threadmap benchmark: ThreadMap vs V8 Map',
    `machine   ${m.cpu}, ${m.cores} cores${m.virtualization ? ` (${m.virtualization})` : ''}, ${m.memoryGiB} GiB, ${m.platform}`,
    `runtime   Node ${m.node} (V8 ${m.v8})`,
    `date      ${m.date}   load average ${m.loadavg.join(' ')}`,
    `workload  string keys "user:" + 8 hex digits (unique), number values; sizes ${opts.sizes.map(fmtInt).join(', ')} keys`,
    `          probed in a random order with equal, separately allocated strings (every probe a hit); strategies ${opts.strategies.join(', ')}`,
    `timing    ${opts.quick ? 'QUICK smoke run; ' : ''}median of ${opts.samples} interleaved samples of ${opts.sampleMs} ms after ${opts.warmupMs} ms warm-up (min-max in brackets)`,
  ]
  if (opts.suites.includes('workers')) {
    lines.push(
      `workers   ${100 - opts.mtSetPercent}% get / ${opts.mtSetPercent}% set on one shared map, threads ${opts.threads.join(', ')}; ` +
        `median of ${opts.mtRounds} rounds of ${opts.mtMs} ms after ${opts.mtWarmupMs} ms warm-up`,
    )
  }
  return lines.join('\n')
}

export function singleTable(results) {
  const rows = []
  const sizes = [...new Set(results.map((r) => r.size))]
  const ops = [...new Set(results.map((r) => r.op))]
  for (const size of sizes) {
    for (const op of ops) {
      const group = results.filter((r) => r.size === size && r.op === op)
      const base = group.find((r) => r.baseline)
      for (const r of group) {
        rows.push([
          fmtInt(size),
          op,
          r.impl,
          `${fmtNs(r.nsPerOp)} (${fmtNs(r.min)}-${fmtNs(r.max)})`,
          fmtMops(1e3 / r.nsPerOp),
          base ? fmtRatio(base.nsPerOp / r.nsPerOp) : '-',
        ])
      }
    }
  }
  return [
    'Single thread  (vs Map = Map time / this time: 1.00x is as fast as Map, 0.50x takes twice as long)',
    'insert = a new map, then one set per key (growth included)',
    '',
    table(['keys', 'op', 'implementation', 'ns/op (min-max)', 'Mops/s', 'vs Map'], rows, [true, false, false, true, true, true]),
  ].join('\n')
}

export function workersTable(results) {
  const rows = []
  for (const size of [...new Set(results.map((r) => r.size))]) {
    const group = results.filter((r) => r.size === size)
    const base = group.find((r) => r.baseline)
    for (const r of group) {
      const one = group.find((x) => x.impl === r.impl && x.threads === 1)
      rows.push([
        fmtInt(size),
        r.impl,
        r.threads,
        `${fmtMops(r.mops)} (${fmtMops(r.minMops)}-${fmtMops(r.maxMops)})`,
        fmtNs(r.nsPerOp),
        one && !r.baseline ? fmtRatio(r.mops / one.mops) : '-',
        base ? fmtRatio(r.mops / base.mops) : '-',
      ])
    }
  }
  return [
    'Worker threads sharing one ThreadMap  (Mops/s = all threads together; ns/op = per thread; both medians over rounds)',
    'vs 1 thread = throughput / the same map with 1 thread; vs Map = throughput / a private Map in 1 thread',
    '',
    table(
      ['keys', 'implementation', 'threads', 'Mops/s (min-max)', 'ns/op', 'vs 1 thread', 'vs Map'],
      rows,
      [true, false, true, true, true, true, true],
    ),
  ].join('\n')
}

export function writeJson(file, machine, opts, results) {
  fs.writeFileSync(file, `${JSON.stringify({ machine, options: opts, results }, null, 2)}\n`)
}
