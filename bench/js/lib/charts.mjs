// SVG charts of a run, drawn by Vega-Lite specs compiled to Vega and rendered
// headlessly in Node (vega's View.toSVG: no browser, no canvas, no native
// code). One function per chart; each takes the figures it needs and returns
// { title, svg }. renderCharts() picks the ones the given results allow.
//
//   throughput vs threads, one panel per workload (JS workers suite)
//   throughput vs threads, one panel per workload (native bench)
//   latency percentiles p50/p99/p99.9 per contender (native bench)
//   event-loop delay percentiles under churn (JS churn suite)
//   bytes per entry (JS churn suite)

import fs from 'node:fs'
import path from 'node:path'

let libs = null
async function load() {
  if (!libs) {
    const vega = await import('vega')
    const vl = await import('vega-lite')
    libs = { vega, compile: vl.compile ?? vl.default.compile }
  }
  return libs
}

async function toSvg(spec) {
  const { vega, compile } = await load()
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' })
  const svg = await view.toSVG()
  view.finalize()
  return svg
}

const FONT = { labelFont: 'Helvetica, Arial, sans-serif', titleFont: 'Helvetica, Arial, sans-serif', labelFontSize: 11, titleFontSize: 12 }
const base = (title) => ({
  $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
  title: { text: title, fontSize: 14, anchor: 'start' },
  background: 'white',
  config: { axis: FONT, legend: { ...FONT, labelLimit: 320 }, header: { labelFontSize: 12, titleFontSize: 12 }, view: { stroke: '#ddd' } },
})

const sizeLabel = (n) =>
  n >= 1 << 20 && n % (1 << 20) === 0
    ? `${n >> 20}M`
    : n >= 1e6 && n % 1e6 === 0
      ? `${n / 1e6}M`
      : n >= 1024 && n % 1024 === 0
        ? `${n >> 10}K`
        : n >= 1000 && n % 1000 === 0
          ? `${n / 1000}K`
          : String(n)

// rows: { panel, series, threads, mops }
function throughputSpec(title, rows, subtitle) {
  return {
    ...base(title),
    data: { values: rows },
    facet: { field: 'panel', type: 'nominal', title: null, sort: { field: 'order' } },
    columns: 4,
    spec: {
      width: 170,
      height: 150,
      layer: [
        {
          mark: { type: 'line', point: true, strokeWidth: 1.5 },
          encoding: {
            x: { field: 'threads', type: 'ordinal', title: 'threads', axis: { labelAngle: 0 } },
            y: { field: 'mops', type: 'quantitative', title: 'Mops/s (all threads)', scale: { type: 'log' } },
            color: { field: 'series', type: 'nominal', title: subtitle, scale: { scheme: 'category10' } },
            tooltip: [{ field: 'series' }, { field: 'threads' }, { field: 'mops', format: '.2f' }],
          },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  }
}

export async function jsThroughputChart(results) {
  const rows = results
    .filter((r) => r.suite === 'workers')
    .map((r) => ({
      panel: `${sizeLabel(r.size)} keys, ${r.reads}% get, ${r.dist}`,
      order: r.size * 1000 + (100 - r.reads) * 2 + (r.dist === 'zipf' ? 1 : 0),
      series: r.baseline ? 'V8 Map (private)' : r.impl,
      threads: r.threads,
      mops: r.mops,
    }))
  if (!rows.length) return null
  return {
    title: 'JS: throughput vs worker threads sharing one map',
    svg: await toSvg(throughputSpec('JS: throughput vs worker threads sharing one map (log scale)', rows, 'implementation')),
  }
}

export async function nativeThroughputChart(native, keys) {
  const rows = native.results.filter((r) => r.keys === keys).map((r) => ({
    panel: `${sizeLabel(r.size)} ${r.keys}, ${r.readPercent}% read, ${r.dist}`,
    order: r.size * 10000 + (r.keys === 'str16' ? 1000 : 0) + (100 - r.readPercent) * 2 + (r.dist === 'uniform' ? 0 : 1),
    series: r.contender,
    threads: r.threads,
    mops: r.mops,
  }))
  if (!rows.length) return null
  const what = keys === 'int64' ? '64-bit integer keys' : '16-byte string keys'
  return {
    title: `Native: throughput vs threads, ${what}`,
    svg: await toSvg(throughputSpec(`Native (C++): throughput vs threads, ${what} (log scale)`, rows, 'contender')),
  }
}

export async function nativeLatencyChart(native, pick) {
  const rs = native.results.filter(pick)
  if (!rs.length) return null
  const rows = rs.flatMap((r) =>
    ['p50', 'p99', 'p999'].map((q) => ({
      contender: r.contender,
      threads: `${r.threads} thread${r.threads > 1 ? 's' : ''}`,
      percentile: q === 'p999' ? 'p99.9' : q,
      ns: Math.max(1, r.latencyNs[q]),
    })),
  )
  const r0 = rs[0]
  const title = `Native: latency of sampled operations, ${sizeLabel(r0.size)} ${r0.keys} keys, ${r0.readPercent}% read, ${r0.dist}`
  return {
    title,
    svg: await toSvg({
      ...base(`${title} (log scale; includes ~${Math.round(native.timerOverheadNs)} ns of timer)`),
      data: { values: rows },
      width: 300,
      height: 200,
      mark: { type: 'point', filled: true, size: 60 },
      encoding: {
        column: { field: 'threads', type: 'nominal', title: null },
        x: { field: 'contender', type: 'nominal', title: null, axis: { labelAngle: -30 } },
        y: { field: 'ns', type: 'quantitative', title: 'ns', scale: { type: 'log' } },
        color: { field: 'percentile', type: 'nominal', sort: ['p50', 'p99', 'p99.9'], scale: { scheme: 'tableau10' } },
        shape: { field: 'percentile', type: 'nominal', sort: ['p50', 'p99', 'p99.9'] },
      },
    }),
  }
}

export async function loopDelayChart(results) {
  const churn = results.filter((r) => r.suite === 'churn')
  if (!churn.length) return null
  const rows = churn.flatMap((r) => [
    { impl: r.impl, what: 'loop delay p50', ms: r.loopDelayMs.p50 },
    { impl: r.impl, what: 'loop delay p99', ms: r.loopDelayMs.p99 },
    { impl: r.impl, what: 'loop delay max', ms: r.loopDelayMs.max },
    { impl: r.impl, what: 'longest GC pause', ms: r.gc.maxMs },
  ])
  const order = ['loop delay p50', 'loop delay p99', 'loop delay max', 'longest GC pause']
  return {
    title: 'JS churn: event-loop delay and GC pauses',
    svg: await toSvg({
      ...base(`JS churn (${churn[0].window.toLocaleString('en-US')} live entries): event-loop delay percentiles and longest GC pause`),
      data: { values: rows },
      width: 520,
      height: 220,
      mark: 'bar',
      encoding: {
        x: { field: 'impl', type: 'nominal', title: null, axis: { labelAngle: -20 } },
        xOffset: { field: 'what', sort: order },
        y: { field: 'ms', type: 'quantitative', title: 'ms' },
        color: { field: 'what', type: 'nominal', sort: order, title: null, scale: { scheme: 'tableau10' } },
      },
    }),
  }
}

export async function bytesPerEntryChart(results) {
  const churn = results.filter((r) => r.suite === 'churn')
  if (!churn.length) return null
  const rows = churn.flatMap((r) => [
    { impl: r.impl, what: 'V8 heap', bytes: Math.max(0, r.bytesPerEntry.heap) },
    ...(r.bytesPerEntry.native === null ? [] : [{ impl: r.impl, what: 'native (stats().bytes)', bytes: r.bytesPerEntry.native }]),
    { impl: r.impl, what: 'process RSS', bytes: Math.max(0, r.bytesPerEntry.rss) },
  ])
  const order = ['V8 heap', 'native (stats().bytes)', 'process RSS']
  return {
    title: 'Bytes per entry',
    svg: await toSvg({
      ...base(`Bytes per entry, ${churn[0].window.toLocaleString('en-US')} string keys ("churn:<i>") with number values`),
      data: { values: rows },
      width: 520,
      height: 220,
      mark: 'bar',
      encoding: {
        x: { field: 'impl', type: 'nominal', title: null, axis: { labelAngle: -20 } },
        xOffset: { field: 'what', sort: order },
        y: { field: 'bytes', type: 'quantitative', title: 'bytes per entry' },
        color: { field: 'what', type: 'nominal', sort: order, title: null, scale: { scheme: 'set2' } },
      },
    }),
  }
}

/**
 * Renders every chart the results allow into `dir`, file names prefixed by
 * `prefix`. Returns [{ title, file }] with file names relative to `dir`.
 */
export async function renderCharts({ js = null, native = null }, dir, prefix = '') {
  fs.mkdirSync(dir, { recursive: true })
  const jobs = []
  if (js) {
    jobs.push(['js-throughput', () => jsThroughputChart(js.results)])
    jobs.push(['js-loop-delay', () => loopDelayChart(js.results)])
    jobs.push(['js-bytes-per-entry', () => bytesPerEntryChart(js.results)])
  }
  if (native) {
    for (const keys of ['int64', 'str16']) {
      jobs.push([`native-throughput-${keys}`, () => nativeThroughputChart(native, keys)])
    }
    const sizes = [...new Set(native.results.map((r) => r.size))].sort((a, b) => a - b)
    const big = sizes[sizes.length - 1]
    for (const [name, size, read] of [
      ['native-latency-small', sizes[0], 95],
      ['native-latency-large', big, 50],
    ]) {
      jobs.push([
        name,
        () =>
          nativeLatencyChart(native, (r) => r.size === size && r.readPercent === read && r.dist === 'uniform' && r.keys === native.results[0].keys),
      ])
    }
  }
  const out = []
  for (const [name, make] of jobs) {
    const chart = await make()
    if (!chart) continue
    const file = `${prefix}${name}.svg`
    fs.writeFileSync(path.join(dir, file), chart.svg)
    out.push({ title: chart.title, file })
  }
  return out
}
