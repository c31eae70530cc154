// node bench/js/charts.mjs [--js=FILE] [--native=FILE] [--out=DIR]
// Renders the SVG charts of saved results (the JSON of `npm run bench` and of
// `npm run bench:native`) into DIR (default bench/results/charts); this is how
// the charts in docs/benchmarks/ are made from the published runs.

import fs from 'node:fs'
import { renderCharts } from './lib/charts.mjs'

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const m = /^--([a-z]+)=(.*)$/.exec(a)
    if (!m) {
      console.error(`usage: node bench/js/charts.mjs [--js=FILE] [--native=FILE] [--out=DIR]`)
      process.exit(2)
    }
    return [m[1], m[2]]
  }),
)
const read = (f) => (f ? JSON.parse(fs.readFileSync(f, 'utf8')) : null)
const charts = await renderCharts({ js: read(args.js), native: read(args.native) }, args.out ?? 'bench/results/charts')
for (const c of charts) console.log(`${args.out ?? 'bench/results/charts'}/${c.file}  ${c.title}`)
