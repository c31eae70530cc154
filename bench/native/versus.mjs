// node bench/native/versus.mjs RUN.json [RUN.json ...] [--markdown] [--unstarved]
//
// The best threadmap strategy against each peer of threadmap-bench, over every
// configuration the runs share (issue 16 asks for {int, str} x {1K, 64K, 1M} x
// {100, 95, 50, 10% reads} x {1, 2 threads}, uniform keys).
//
// Runs are separate processes of threadmap-bench --json=FILE started at
// different times, so the machine's load drifts between them. For each
// configuration and contender the rounds of all runs are pooled and their
// median taken. Every round counts: on a machine other processes load, the
// driver's rule for one figure (drop rounds in which a thread waited for a
// CPU over 20% of the window, unless all did) keeps one lucky round of one
// contender and several of another, and the ratio of two such figures says
// more about luck than about the maps; the contenders' rotation within each
// round spreads the load over all of them instead. --unstarved applies the
// driver's rule anyway;
// the best strategy of a configuration is the one with the highest pooled
// median. The ratio of a configuration is best / peer; the summary is the
// geometric mean of the ratios, the lowest, and the wins (ratio > 1). Beside
// the pooled figure, the same geometric mean computed within each run alone
// gives its range over runs.

import fs from 'node:fs'

const args = process.argv.slice(2)
const markdown = args.includes('--markdown')
const unstarvedOnly = args.includes('--unstarved')
const files = args.filter((a) => !a.startsWith('--'))
if (files.length === 0) {
  console.error('usage: node bench/native/versus.mjs RUN.json [RUN.json ...] [--markdown] [--unstarved]')
  process.exit(2)
}
const runs = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')))

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const geomean = (xs) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length)
const sizeLabel = (n) => (n >= 1 << 20 ? `${n >> 20}M` : n >= 1024 ? `${n >> 10}K` : String(n))
const configKey = (r) => `${r.keys}|${r.size}|${r.readPercent}|${r.threads}`

// Every round, or with --unstarved the rounds the driver would use: not
// starved (wait share <= 0.2), else all.
function usedRounds(results) {
  const all = []
  const ok = []
  for (const r of results) {
    r.roundsMops.forEach((m, i) => {
      all.push(m)
      const w = r.roundsWait ? r.roundsWait[i] : 0
      if (w !== null && w <= 0.2) ok.push(m)
    })
  }
  return unstarvedOnly && ok.length ? ok : all
}

// configs: key -> { label fields, contenders: name -> { peer, results: [per run] } }
function collect(runList) {
  const configs = new Map()
  for (const run of runList) {
    for (const r of run.results) {
      if (r.dist !== 'uniform') continue
      const k = configKey(r)
      if (!configs.has(k)) configs.set(k, { keys: r.keys, size: r.size, read: r.readPercent, threads: r.threads, contenders: new Map() })
      const c = configs.get(k).contenders
      if (!c.has(r.contender)) c.set(r.contender, { peer: r.peer, results: [] })
      c.get(r.contender).results.push(r)
    }
  }
  return configs
}

function summarize(configs) {
  const rows = []
  for (const cfg of configs.values()) {
    const fig = new Map()
    for (const [name, c] of cfg.contenders) {
      const rounds = usedRounds(c.results)
      fig.set(name, { peer: c.peer, median: median(rounds), min: Math.min(...rounds), max: Math.max(...rounds), rounds: rounds.length })
    }
    let best = null
    for (const [name, f] of fig) if (!f.peer && (!best || f.median > fig.get(best).median)) best = name
    rows.push({ cfg, fig, best })
  }
  rows.sort((a, b) => a.cfg.keys.localeCompare(b.cfg.keys) || a.cfg.size - b.cfg.size || b.cfg.read - a.cfg.read || a.cfg.threads - b.cfg.threads)
  const peers = [...new Set(rows.flatMap((r) => [...r.fig].filter(([, f]) => f.peer).map(([n]) => n)))]
  const versus = {}
  for (const p of peers) {
    const ratios = rows.filter((r) => r.fig.has(p)).map((r) => ({ r, x: r.fig.get(r.best).median / r.fig.get(p).median }))
    versus[p] = {
      configs: ratios.length,
      geomean: geomean(ratios.map((q) => q.x)),
      lowest: Math.min(...ratios.map((q) => q.x)),
      wins: ratios.filter((q) => q.x > 1).length,
    }
  }
  return { rows, peers, versus }
}

const pooled = summarize(collect(runs))
const perRun = runs.map((run) => summarize(collect([run])).versus)
const strategyWins = {}
for (const r of pooled.rows) strategyWins[r.best] = (strategyWins[r.best] ?? 0) + 1

const f2 = (x) => x.toFixed(2)
const cellOf = (f) => (f ? `${f2(f.median)} (${f2(f.min)}-${f2(f.max)})` : 'n/a')
console.log(`${runs.length} run(s), ${pooled.rows.length} configurations, uniform keys; ${unstarvedOnly ? 'unstarved ' : 'all '}rounds pooled over runs (median, min-max in Mops/s)`)
for (const run of runs) console.log(`  run ${run.machine.date}: load average at start ${run.machine.loadavgAtStart}, at end ${run.loadavgAtEnd}`)
console.log(`best strategy per configuration: ${Object.entries(strategyWins).map(([n, c]) => `${n} ${c}`).join(', ')}`)
console.log('\nbest strategy / peer, over the configurations:')
for (const p of pooled.peers) {
  const v = pooled.versus[p]
  const per = perRun.map((x) => x[p]?.geomean).filter((x) => x !== undefined)
  const range = per.length > 1 ? ` (per run ${f2(Math.min(...per))}-${f2(Math.max(...per))})` : ''
  console.log(`  vs ${p.padEnd(7)} geometric mean ${f2(v.geomean)}x${range}, lowest ${f2(v.lowest)}x, strategy ahead in ${v.wins} of ${v.configs}`)
}
// The same against each peer over slices of the matrix: where the issue
// expects optimistic reads to win (2 threads, 95-100% reads), and per key type.
const slices = [
  ['2 threads, 95-100% reads', (c) => c.threads === 2 && c.read >= 95],
  ['64-bit keys', (c) => c.keys === 'int64'],
  ['16-byte keys', (c) => c.keys === 'str16'],
]
for (const [label, keep] of slices) {
  const rows = pooled.rows.filter((r) => keep(r.cfg))
  const parts = pooled.peers.map((p) => {
    const xs = rows.filter((r) => r.fig.has(p)).map((r) => r.fig.get(r.best).median / r.fig.get(p).median)
    return `${p} ${f2(geomean(xs))}x (${f2(Math.min(...xs))}-${f2(Math.max(...xs))})`
  })
  console.log(`  ${label} (${rows.length}): ${parts.join(', ')}`)
}
if (markdown) {
  const head = ['keys', 'size', 'reads', 'thr', 'best strategy', ...pooled.peers.map((p) => p), ...pooled.peers.map((p) => `best/${p}`)]
  console.log(`\n| ${head.join(' | ')} |`)
  console.log(`|${head.map((_, i) => (i < 4 ? '---' : '---:')).join('|')}|`)
  for (const { cfg, fig, best } of pooled.rows) {
    const b = fig.get(best)
    const cells = [
      cfg.keys === 'int64' ? '64-bit' : '16-byte',
      sizeLabel(cfg.size),
      `${cfg.read}%`,
      cfg.threads,
      `${best} ${cellOf(b)}`,
      ...pooled.peers.map((p) => cellOf(fig.get(p))),
      ...pooled.peers.map((p) => (fig.has(p) ? `${f2(b.median / fig.get(p).median)}x` : 'n/a')),
    ]
    console.log(`| ${cells.join(' | ')} |`)
  }
}
