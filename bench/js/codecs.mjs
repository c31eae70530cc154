// node bench/js/codecs.mjs [flags]: which object codec threadmap should use.
// Encodes and decodes realistic values with every candidate, checks that each
// candidate gives back what it was given (a codec that loses a type is
// marked, not timed as if it had worked), and prints ns per value, interleaved
// (lib/measure.mjs), beside v8.serialize, today's codec for objects.
//
//   --samples=7 --sample-ms=100 --warmup-ms=100
//   --quick             3 samples of 40 ms (a smoke run)
//   --json=FILE         also write every figure as JSON
//
// The candidates that keep codec state (msgpackr's record structures) run in
// the form threadmap would use: one structure list shared by every encoder and
// decoder of a map, so a value holds a structure's id, not its field names.
// 'threadmap structured' is the codec threadmap ships (lib/codecs.ts, from
// dist/: run `npm run build:ts` first): msgpackr records for what they give
// back exactly, after a walk that checks it, v8.serialize for the rest, over
// a real map's native structure list.

import assert from 'node:assert'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import v8 from 'node:v8'

import { describeMachine } from './lib/machine.mjs'
import { fresh, measureInterleaved, sink } from './lib/measure.mjs'
import { sessionObject } from './suites/objects.mjs'

const require = createRequire(import.meta.url)

function parse(argv) {
  const o = { samples: 7, sampleMs: 100, warmupMs: 100, json: null }
  for (const arg of argv) {
    if (arg === '--quick') {
      Object.assign(o, { samples: 3, sampleMs: 40, warmupMs: 40 })
      continue
    }
    const m = /^--([a-z-]+)=(.*)$/.exec(arg)
    if (!m) throw new Error(`unknown argument ${arg} (see the top of bench/js/codecs.mjs)`)
    const [, k, v] = m
    if (k === 'samples') o.samples = Number(v)
    else if (k === 'sample-ms') o.sampleMs = Number(v)
    else if (k === 'warmup-ms') o.warmupMs = Number(v)
    else if (k === 'json') o.json = v
    else throw new Error(`unknown flag --${k}`)
  }
  return o
}

// --- the values -------------------------------------------------------------

// Deterministic, so every run encodes the same bytes.
function rng(seed) {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const word = (r, n) => Array.from({ length: n }, () => String.fromCharCode(97 + Math.floor(r() * 26))).join('')

// The issue's object (7 fields, about 210 bytes as JSON), as the objects
// suite of `npm run bench` makes it.
const session = sessionObject

// A nested document of about 2 KB.
function document(r) {
  return {
    id: word(r, 24),
    title: word(r, 40),
    created: 1_700_000_000_000 + Math.floor(r() * 1e9),
    author: { name: word(r, 12), email: `${word(r, 8)}@${word(r, 6)}.com`, karma: Math.floor(r() * 1e5) },
    tags: Array.from({ length: 6 }, () => word(r, 7)),
    sections: Array.from({ length: 5 }, (_, i) => ({
      heading: word(r, 20),
      order: i,
      body: word(r, 200),
      refs: [Math.floor(r() * 1e6), Math.floor(r() * 1e6)],
    })),
    meta: { draft: false, version: 3, ratio: r() },
  }
}

// An array of 100 small records of one shape.
function records(r) {
  return Array.from({ length: 100 }, (_, i) => ({ id: i, name: word(r, 10), price: Math.round(r() * 1e5) / 100, stock: Math.floor(r() * 500), ok: r() < 0.9 }))
}

// What only structured cloning keeps: Date, Map, Set, typed arrays, BigInt.
function exotic(r) {
  return {
    when: new Date(1_700_000_000_000 + Math.floor(r() * 1e9)),
    seen: new Set([word(r, 6), word(r, 6), word(r, 6)]),
    counts: new Map([
      [word(r, 4), 1],
      [word(r, 4), 2],
    ]),
    bytes: Uint8Array.from({ length: 32 }, () => Math.floor(r() * 256)),
    big: 2n ** 70n + BigInt(Math.floor(r() * 1e9)),
    name: word(r, 12),
  }
}

const SHAPES = [
  ['session (~210 B)', session],
  ['document (~2 KB)', document],
  ['100 records', records],
  ['Date/Map/Set/typed array/BigInt', exotic],
]

// --- the candidates ---------------------------------------------------------

function candidates() {
  const list = [
    { name: 'v8.serialize', make: () => ({ encode: (v) => v8.serialize(v), decode: (b) => v8.deserialize(b) }) },
    { name: 'JSON', make: () => ({ encode: (v) => JSON.stringify(v), decode: (s) => JSON.parse(s) }) },
  ]
  let msgpackr = null
  try {
    msgpackr = require('msgpackr')
  } catch {}
  if (msgpackr) {
    const { Packr } = msgpackr
    // The form threadmap would keep: the structure list belongs to the map and
    // every thread's encoder and decoder reads it.
    const shared = (extra) => () => {
      const structures = []
      const p = new Packr({ structures, useRecords: true, moreTypes: true, ...extra })
      return { encode: (v) => p.pack(v), decode: (b) => p.unpack(b) }
    }
    list.push({ name: 'msgpackr records (shared structures)', make: shared({}) })
    list.push({ name: 'msgpackr records + structuredClone', make: shared({ structuredClone: true }) })
    list.push({
      name: 'msgpackr (no records)',
      make: () => {
        const p = new Packr({ useRecords: false, moreTypes: true })
        return { encode: (v) => p.pack(v), decode: (b) => p.unpack(b) }
      },
    })
  }
  let dist = null
  try {
    dist = { ...require('../../dist/index.js'), codecs: require('../../dist/codecs.js'), native: require('../../dist/native.js') }
  } catch {}
  if (dist) {
    list.push({
      name: 'threadmap structured (records | v8)',
      make: () => {
        const map = new dist.ThreadMap(null, { keys: 'string', values: 'structured' })
        const codec = dist.codecs.valueCodec('structured', dist.native.addon.attach(map.id))
        return { encode: (v) => codec.encode(v), decode: (b) => codec.decode(b) }
      },
    })
  }
  let cbor = null
  try {
    cbor = require('cbor-x')
  } catch {}
  if (cbor) {
    list.push({
      name: 'cbor-x records (shared structures)',
      make: () => {
        const e = new cbor.Encoder({ structures: [], useRecords: true })
        return { encode: (v) => e.encode(v), decode: (b) => e.decode(b) }
      },
    })
  }
  return list
}

// What a round trip lost, or null. deepStrictEqual compares Dates, Maps, Sets,
// typed arrays and bigints by value and type.
function roundTripError(codec, value) {
  try {
    assert.deepStrictEqual(codec.decode(codec.encode(value)), value)
    return null
  } catch (err) {
    return (err.message.split('\n')[0] || String(err)).slice(0, 60)
  }
}

const bytesOf = (w) => (typeof w === 'string' ? Buffer.byteLength(w) : w.byteLength)

function main() {
  const o = parse(process.argv.slice(2))
  const machine = describeMachine()
  console.log('threadmap codec benchmark: encode and decode of one value, ns (median, min-max)')
  console.log(`machine   ${machine.cpu}, ${machine.cores} cores${machine.virtualization ? ` (${machine.virtualization})` : ''}, Node ${machine.node}, ${machine.date}`)
  console.log(`method    64 distinct values of each shape, round-robin; ${o.samples} interleaved samples of ${o.sampleMs} ms`)
  const results = []
  for (const [shapeName, gen] of SHAPES) {
    const r = rng(42)
    const values = Array.from({ length: 64 }, () => gen(r))
    const rows = []
    for (const cand of candidates()) {
      const codec = cand.make()
      const lost = roundTripError(codec, values[0])
      if (lost) {
        rows.push({ codec: cand.name, lost })
        continue
      }
      const wires = values.map((v) => codec.encode(v))
      const size = wires.reduce((a, w) => a + bytesOf(w), 0) / wires.length
      // Fresh kernels per contender, so one codec's type feedback does not
      // make another's call site polymorphic.
      const enc = fresh(function (codec, values) {
        let i = 0
        return () => {
          const w = codec.encode(values[i++ & 63])
          return { ops: 1, result: w.length }
        }
      })(codec, values)
      const dec = fresh(function (codec, wires) {
        let i = 0
        return () => {
          const v = codec.decode(wires[i++ & 63])
          return { ops: 1, result: v === null ? 0 : 1 }
        }
      })(codec, wires)
      rows.push({ codec: cand.name, size, enc, dec })
    }
    const timed = rows.filter((x) => x.enc)
    const encT = measureInterleaved(timed.map((x) => ({ step: x.enc })), o)
    const decT = measureInterleaved(timed.map((x) => ({ step: x.dec })), o)
    timed.forEach((x, i) => {
      x.encode = encT[i]
      x.decode = decT[i]
    })
    const base = timed.find((x) => x.codec === 'v8.serialize')
    console.log(`\n${shapeName}`)
    const fmt = (s) => `${s.nsPerOp.toFixed(0).padStart(7)} (${s.min.toFixed(0)}-${s.max.toFixed(0)})`
    for (const x of rows) {
      if (x.lost) {
        console.log(`  ${x.codec.padEnd(38)} does not round-trip: ${x.lost}`)
        continue
      }
      const vs = (a, b) => {
        const f = b.nsPerOp / a.nsPerOp
        return f >= 1 ? `${f.toFixed(2)}x faster` : `${(1 / f).toFixed(2)}x slower`
      }
      const ratio = base && x !== base ? `   vs v8.serialize: encode ${vs(x.encode, base.encode)}, decode ${vs(x.decode, base.decode)}` : ''
      console.log(`  ${x.codec.padEnd(38)} ${x.size.toFixed(0).padStart(6)} B  encode ${fmt(x.encode)}  decode ${fmt(x.decode)}${ratio}`)
      results.push({ shape: shapeName, codec: x.codec, bytes: x.size, encode: x.encode, decode: x.decode })
    }
    for (const x of rows.filter((x) => x.lost)) results.push({ shape: shapeName, codec: x.codec, lost: x.lost })
  }
  console.log(`\n(checksum ${sink.value})`)
  if (o.json) fs.writeFileSync(o.json, `${JSON.stringify({ machine, opts: o, results }, null, 1)}\n`)
}

main()
