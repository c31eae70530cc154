// Plain-text report (and JSON) of the figures gathered by the suites. Ratios
// compare figures taken in the same run only, never across runs.

import fs from 'node:fs'

const fmtInt = (n) => n.toLocaleString('en-US')
const fmtNs = (ns) => (ns >= 100 ? ns.toFixed(0) : ns >= 10 ? ns.toFixed(1) : ns.toFixed(2))
const fmtMops = (mops) => (mops >= 10 ? mops.toFixed(1) : mops.toFixed(2))
const fmtRatio = (r) => `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`

export function table(headers, rows, alignRight) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (cells) =>
    cells
      .map((c, i) => (alignRight[i] ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

export function header(machine, opts, placement) {
  const m = machine
  const lines = [
    'threadmap benchmark: ThreadMap vs V8 Map and the shareable alternatives',
    `machine   ${m.cpu}, ${m.cores} cores${m.virtualization ? ` (${m.virtualization})` : ''}, ${m.memoryGiB} GiB, ${m.platform}`,
    `runtime   Node ${m.node} (V8 ${m.v8}); peers ${Object.entries(m.peers ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `date      ${m.date}   load average ${m.loadavg.join(' ')}`,
    `placement ${placement.header()}`,
    `workload  ${opts.keyType === 'number' ? 'number keys (unique integers below 2^32)' : 'string keys "user:" + 8 hex digits (unique)'}, number values; sizes ${opts.sizes.map(fmtInt).join(', ')} keys; strategies ${opts.strategies.join(', ')}`,
  ]
  if (opts.suites.includes('single')) {
    lines.push(
      `single    ${opts.quick ? 'QUICK smoke run; ' : ''}median of ${opts.samples} interleaved samples of ${opts.sampleMs} ms after ${opts.warmupMs} ms warm-up (min-max in brackets); probes in random order, separately allocated strings`,
    )
  }
  if (opts.suites.includes('workers')) {
    lines.push(
      `workers   get/set mixes with ${opts.reads.join(', ')}% get, keys ${opts.dists.join(' and ')}, threads ${opts.threads.join(', ')}; ` +
        `median of ${opts.mtRounds} rounds of ${opts.mtMs} ms after ${opts.mtWarmupMs} ms warm-up; peers ${opts.peers.join(', ')}`,
    )
  }
  if (opts.suites.includes('churn')) {
    lines.push(
      `churn     ${fmtInt(opts.churnWindow)} live entries, ${fmtInt(opts.churnOps)} set-new/delete-oldest ops, each contender in its own process, ${opts.churnRounds} round(s)`,
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
  const groups = []
  for (const r of results) {
    const key = `${r.size}|${r.reads}|${r.dist}`
    if (!groups.includes(key)) groups.push(key)
  }
  for (const key of groups) {
    const group = results.filter((r) => `${r.size}|${r.reads}|${r.dist}` === key)
    const base = group.find((r) => r.baseline)
    for (const r of group) {
      const one = group.find((x) => x.impl === r.impl && x.threads === 1)
      rows.push([
        fmtInt(r.size),
        `${r.reads}% ${r.dist}`,
        r.impl,
        r.threads,
        `${fmtMops(r.mops)} (${fmtMops(r.minMops)}-${fmtMops(r.maxMops)})${r.starved ? '!' : ''}`,
        fmtNs(r.nsPerOp),
        `${Math.round(r.cpuShare * 100)}%`,
        r.waitShare === null ? 'n/a' : `${Math.round(r.waitShare * 100)}%`,
        one && !r.baseline && r.threads > 1 ? fmtRatio(r.mops / one.mops) : '-',
        base ? fmtRatio(r.mops / base.mops) : '-',
      ])
    }
  }
  return [
    'Worker threads sharing one map  (Mops/s = all threads together; ns/op = per thread; both medians over rounds)',
    'vs 1 thread = throughput / the same contender with 1 thread; vs Map = throughput / a private Map in 1 thread',
    'cpu = process CPU time during the window / (window x threads): below 100% the threads waited for a CPU or slept',
    'wait = the worst thread\'s run-queue wait / window (another process had its CPU); ! = every round had wait > 20%: the machine\'s load, not the map',
    '',
    table(
      ['keys', 'workload', 'implementation', 'threads', 'Mops/s (min-max)', 'ns/op', 'cpu', 'wait', 'vs 1 thread', 'vs Map'],
      rows,
      [true, false, false, true, true, true, true, true, true, true],
    ),
  ].join('\n')
}

export function churnTable(results) {
  const base = results.find((r) => r.baseline)
  const rows = results.map((r) => [
    r.impl,
    fmtNs(r.nsPerOp),
    r.bytesPerEntry.heap.toFixed(1),
    r.bytesPerEntry.native === null ? '-' : r.bytesPerEntry.native.toFixed(1),
    r.bytesPerEntry.rss.toFixed(1),
    String(r.gc.count),
    r.gc.totalMs.toFixed(1),
    r.gc.maxMs.toFixed(2),
    `${r.loopDelayMs.p50.toFixed(2)} / ${r.loopDelayMs.p99.toFixed(2)} / ${r.loopDelayMs.max.toFixed(2)}`,
    r.growthMB.heap.toFixed(1),
    r.growthMB.rss.toFixed(1),
    base && !r.baseline ? fmtRatio(base.gc.totalMs / Math.max(r.gc.totalMs, 1e-3)) : '-',
  ])
  const w = results[0]
  return [
    `Churn: ${fmtInt(w.window)} live entries, ${fmtInt(w.ops)} operations (set a new key, delete the oldest), in slices of 4,096 per event-loop turn`,
    'bytes/entry: heap = V8 used heap growth / entries after the fill (full GC), native = the ThreadMap\'s own accounting, rss = RSS growth / entries',
    'gc = perf_hooks gc entries during the churn; loop delay = monitorEventLoopDelay p50 / p99 / max; growth = from before the fill to after the churn',
    '',
    table(
      ['implementation', 'ns/op', 'B/entry heap', 'native', 'rss', 'GCs', 'GC ms', 'max GC ms', 'loop delay ms', 'heap MB', 'RSS MB', 'GC time Map/this'],
      rows,
      [false, true, true, true, true, true, true, true, true, true, true, true],
    ),
  ].join('\n')
}

// The Markdown summary written beside the JSON: the same figures as the
// terminal tables, as Markdown tables, with the charts linked.
export function markdownSummary(machine, opts, results, notes, charts, placement) {
  const m = machine
  const out = []
  out.push('# threadmap benchmark run', '')
  out.push(`- date: ${m.date}; load average at start ${m.loadavg.join(' ')}, at end ${m.loadavgEnd?.join(' ') ?? '?'}`)
  out.push(`- machine: ${m.cpu}, ${m.cores} cores${m.virtualization ? ` (${m.virtualization})` : ''}, ${m.memoryGiB} GiB, ${m.platform}`)
  out.push(`- runtime: Node ${m.node} (V8 ${m.v8}); peers ${Object.entries(m.peers ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  out.push(`- command: \`node bench/js/main.mjs ${(opts.argv ?? []).join(' ')}\`${opts.quick ? ' (quick smoke run)' : ''}`)
  out.push(`- placement: ${placement.header()}`)
  for (const n of notes) out.push(`- note: ${n}`)
  out.push('', '## Placement', '', '```', ...placement.lines(), '```', '')
  const single = results.filter((r) => r.suite === 'single')
  if (single.length) {
    out.push('## Single thread', '', '| keys | op | implementation | ns/op | vs Map |', '|---:|---|---|---:|---:|')
    for (const r of single) {
      const base = single.find((x) => x.baseline && x.size === r.size && x.op === r.op)
      out.push(`| ${fmtInt(r.size)} | ${r.op} | ${r.impl} | ${fmtNs(r.nsPerOp)} | ${base ? fmtRatio(base.nsPerOp / r.nsPerOp) : '-'} |`)
    }
    out.push('')
  }
  const workers = results.filter((r) => r.suite === 'workers')
  if (workers.length) {
    out.push('## Worker threads sharing one map', '', '| keys | workload | implementation | threads | Mops/s | cpu | vs Map |', '|---:|---|---|---:|---:|---:|---:|')
    for (const r of workers) {
      const base = workers.find((x) => x.baseline && x.size === r.size && x.reads === r.reads && x.dist === r.dist)
      out.push(`| ${fmtInt(r.size)} | ${r.reads}% get, ${r.dist} | ${r.impl} | ${r.threads} | ${fmtMops(r.mops)}${r.starved ? ' (starved)' : ''} | ${Math.round(r.cpuShare * 100)}% | ${base ? fmtRatio(r.mops / base.mops) : '-'} |`)
    }
    out.push('')
  }
  const churn = results.filter((r) => r.suite === 'churn')
  if (churn.length) {
    out.push(
      '## Churn: GC and event-loop pauses',
      '',
      '| implementation | ns/op | bytes/entry (heap / native / RSS) | GCs | GC total ms | max GC ms | loop delay p50 / p99 / max ms | heap / RSS growth MB |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
    )
    for (const r of churn) {
      const b = r.bytesPerEntry
      out.push(
        `| ${r.impl} | ${fmtNs(r.nsPerOp)} | ${b.heap.toFixed(1)} / ${b.native === null ? '-' : b.native.toFixed(1)} / ${b.rss.toFixed(1)} | ${r.gc.count} | ${r.gc.totalMs.toFixed(1)} | ${r.gc.maxMs.toFixed(2)} | ${r.loopDelayMs.p50.toFixed(2)} / ${r.loopDelayMs.p99.toFixed(2)} / ${r.loopDelayMs.max.toFixed(2)} | ${r.growthMB.heap.toFixed(1)} / ${r.growthMB.rss.toFixed(1)} |`,
      )
    }
    out.push('')
  }
  if (charts.length) {
    out.push('## Charts', '')
    for (const c of charts) out.push(`![${c.title}](${c.file})`, '')
  }
  return `${out.join('\n')}\n`
}

export function writeJson(file, machine, opts, results, notes, placement) {
  fs.writeFileSync(file, `${JSON.stringify({ kind: 'threadmap-js-bench', machine, options: opts, placement, notes, results }, null, 2)}\n`)
}
