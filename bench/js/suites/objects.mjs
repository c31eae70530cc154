// Objects: get and set of the issue-14 session object (7 fields, ~210 bytes
// as JSON: numbers, short strings, an array of two strings, a nested object
// of three strings, a 70-character string) in a map of 100,000 string keys
// (--objects-size), read and rewritten in random order, one thread:
//
//   Map                      V8's Map: get returns the stored object itself
//   ThreadMap any            the default value type: msgpackr records
//   ThreadMap any (v8 path)  the same map type with every object through
//                            v8.serialize, as before the record codec (an
//                            internal switch of lib/codecs.ts, set around
//                            this contender's kernel calls only)
//   ThreadMap json           JSON text
//   ThreadMap any, readCache the default type with readCache: n (every key
//                            fits), read once before the timing, so every
//                            timed get is a hit: a revision check returning
//                            this thread's deep-frozen copy (README, "Read
//                            cache")
//   ThreadMap any, readCache 1%  readCache: n / 100, so nearly every get is
//                            a miss: what a miss costs over a decoding get
//   ThreadMap any, numbers   the same map type holding a number per key,
//                            no read cache: the number-valued get the read
//                            cache's target is measured against
//   lmdb-js                  get / putSync of the same objects (its default
//                            encoding: msgpackr with shared structures)
//
// Every probe is a string equal to its key but another object (as keys
// that arrive from a request or a parse are); the contenders marked
// "stored probes" (Map, ThreadMap any, and its read cache) are probed with
// the very string objects the map was filled with, the case that favours
// Map (its lookup ends at a pointer compare) and the read cache's Map.
//
// Every contender is measured interleaved (lib/measure.mjs) and each get is
// checked, untimed, before and after to return what was stored.

import assert from 'node:assert'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'

import { makeKeys, probeOrder, rng } from '../lib/keys.mjs'
import { fresh, measureInterleaved } from '../lib/measure.mjs'
import { peerUnavailable } from '../lib/peers.mjs'
import { distPath, loadThreadMap } from '../lib/threadmap.mjs'

const require = createRequire(import.meta.url)

const word = (r, n) => {
  let s = ''
  for (let i = 0; i < n; i++) s += String.fromCharCode(97 + Math.floor(r() * 26))
  return s
}

export function sessionObject(r) {
  return {
    id: Math.floor(r() * 1e9),
    score: Math.round(r() * 1e4) / 100,
    user: word(r, 8),
    roles: [word(r, 5), word(r, 6)],
    geo: { country: word(r, 2), city: word(r, 9), tz: `Europe/${word(r, 6)}` },
    active: r() < 0.5,
    agent: word(r, 70),
  }
}

function getKernel(m, probe, start, end) {
  let sum = 0
  for (let i = start; i < end; i++) sum += m.get(probe[i]).id
  return sum
}

// The contender holding numbers (.id of a number would make the sum NaN).
function getNumberKernel(m, probe, start, end) {
  let sum = 0
  for (let i = start; i < end; i++) sum += m.get(probe[i])
  return sum
}

function setKernel(m, probe, values, start, end) {
  for (let i = start; i < end; i++) m.set(probe[i], values[i])
  return end - start
}

const BATCH = 4096

function batched(n, run) {
  let cursor = 0
  return () => {
    const start = cursor
    const end = Math.min(start + BATCH, n)
    cursor = end === n ? 0 : end
    return { ops: end - start, result: run(start, end) }
  }
}

function implementations(opts, notes) {
  const ThreadMap = loadThreadMap()
  const { setObjectsThroughV8 } = require(path.join(path.dirname(distPath), 'codecs.js'))
  const tm =
    (values, readCache = 0) =>
    () =>
      new ThreadMap(null, { keys: 'string', values, readCache })
  const impls = [
    { name: 'Map', baseline: true, create: () => new Map(), close: () => {} },
    { name: 'Map, stored probes', storedProbes: true, create: () => new Map(), close: () => {} },
    { name: 'ThreadMap any', create: tm('any'), close: (m) => m.close() },
    { name: 'ThreadMap any, stored probes', storedProbes: true, create: tm('any'), close: (m) => m.close() },
    {
      name: 'ThreadMap any (v8 path)',
      create: tm('any'),
      close: (m) => m.close(),
      around: (run) => {
        setObjectsThroughV8(true)
        try {
          return run()
        } finally {
          setObjectsThroughV8(false)
        }
      },
    },
    { name: 'ThreadMap json', create: tm('json'), close: (m) => m.close() },
    // Primed: without the untimed pass, the first pass of misses is most of
    // the timed gets at 100,000 keys.
    { name: 'ThreadMap any, readCache', prime: true, create: tm('any', opts.objectsSize), close: (m) => m.close() },
    {
      name: 'ThreadMap any, readCache, stored probes',
      prime: true,
      storedProbes: true,
      create: tm('any', opts.objectsSize),
      close: (m) => m.close(),
    },
    {
      name: 'ThreadMap any, readCache 1%',
      create: tm('any', Math.max(1, Math.floor(opts.objectsSize / 100))),
      close: (m) => m.close(),
    },
    { name: 'ThreadMap any, numbers', numbers: true, create: tm('any'), close: (m) => m.close() },
  ]
  const why = opts.peers.includes('lmdb') ? peerUnavailable('lmdb') : 'not among --peers'
  if (why === null) {
    const { open } = require('lmdb')
    impls.push({
      name: 'lmdb-js',
      create: () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'threadmap-bench-objects-'))
        const db = open({ path: dir, noSync: true, noMetaSync: true, mapSize: 2 ** 31 })
        return {
          dir,
          db,
          get: (k) => db.get(k),
          set: (k, v) => db.putSync(k, v),
          fill: (keys, values) => db.transactionSync(() => keys.forEach((k, i) => db.put(k, values[i]))),
        }
      },
      close: (m) => {
        m.db.close()
        fs.rmSync(m.dir, { recursive: true, force: true })
      },
    })
  } else {
    notes.push(`objects: lmdb-js skipped (${why})`)
  }
  return impls
}

function fill(impl, m, keys, values) {
  const run = () => {
    if (m.fill) m.fill(keys, values)
    else for (let i = 0; i < keys.length; i++) m.set(keys[i], values[i])
  }
  if (impl.around) impl.around(run)
  else run()
}

function verify(m, probe, values, label) {
  for (let i = 0; i < probe.length; i += 97) assert.deepStrictEqual(m.get(probe[i]), values[i], label)
}

export function objectsSteps() {
  return 2
}

export async function runObjects(opts, record, bar, notes) {
  const n = opts.objectsSize
  const count = n.toLocaleString('en-US')
  bar.label(`objects: ${count} keys: making keys and maps`)
  const keys = makeKeys(n, opts.seed, 'string')
  const { probe } = probeOrder(n, opts.seed, opts.seed + 1, 'string')
  // The object of each key, and of each probe position.
  const next = rng(opts.seed + 2)
  const r = () => next() / 4294967296
  const byKey = new Map(keys.map((k) => [k, sessionObject(r)]))
  const stored = keys.map((k) => byKey.get(k))
  const probed = probe.map((k) => byKey.get(k))
  // The same probe order, each probe the string object stored under its key.
  const storedKey = new Map(keys.map((k) => [k, k]))
  const storedProbe = probe.map((k) => storedKey.get(k))
  // For the contender that holds numbers: a number per key.
  const numberOf = new Map(keys.map((k, i) => [k, i + 0.5]))
  const storedNumbers = keys.map((k) => numberOf.get(k))
  const probedNumbers = probe.map((k) => numberOf.get(k))
  const impls = implementations(opts, notes)
  const maps = impls.map((impl) => {
    const m = impl.create()
    fill(impl, m, keys, impl.numbers ? storedNumbers : stored)
    verify(m, probe, impl.numbers ? probedNumbers : probed, `${impl.name}, after the fill`)
    if (impl.prime) for (const k of keys) m.get(k)
    return m
  })
  for (const op of ['get', 'set']) {
    bar.label(`objects: ${count} keys: ${op}`)
    const contenders = impls.map((impl, i) => {
      const m = maps[i]
      const kernel = fresh(op === 'set' ? setKernel : impl.numbers ? getNumberKernel : getKernel)
      const values = impl.numbers ? probedNumbers : probed
      const keysIn = impl.storedProbes ? storedProbe : probe
      const run = op === 'get' ? (s, e) => kernel(m, keysIn, s, e) : (s, e) => kernel(m, keysIn, values, s, e)
      const wrapped = impl.around ? (s, e) => impl.around(() => run(s, e)) : run
      return { step: batched(n, wrapped) }
    })
    const summaries = measureInterleaved(contenders, opts)
    impls.forEach((impl, i) =>
      record({
        suite: 'objects',
        op,
        size: n,
        impl: impl.name,
        baseline: !!impl.baseline,
        ...summaries[i],
      }),
    )
    bar.tick(`objects: ${op}`)
  }
  impls.forEach((impl, i) => {
    verify(maps[i], probe, impl.numbers ? probedNumbers : probed, `${impl.name}, after the run`)
    impl.close(maps[i])
  })
}

/** ns per op of each contender, and how many times faster ThreadMap any is. */
export function objectsTable(results) {
  const rows = ['objects: one thread, ns per op (median of samples, min-max)']
  for (const op of ['get', 'set']) {
    const mine = results.filter((x) => x.op === op)
    const fast = mine.find((x) => x.impl === 'ThreadMap any')
    for (const x of mine) {
      const vs = fast && x !== fast ? `  (${(x.nsPerOp / fast.nsPerOp).toFixed(2)}x ThreadMap any's time)` : ''
      const ns = `${x.nsPerOp.toFixed(0)} (${x.min.toFixed(0)}-${x.max.toFixed(0)})`
      rows.push(`  ${op.padEnd(4)} ${x.impl.padEnd(40)} ${ns.padStart(20)}${vs}`)
    }
    // Against Map, with each kind of probe beside the other.
    const ratio = (a, b) => {
      const x = mine.find((r) => r.impl === a)
      const y = mine.find((r) => r.impl === b)
      return x && y ? `${(x.nsPerOp / y.nsPerOp).toFixed(2)}x` : 'n/a'
    }
    rows.push(
      `  ${op.padEnd(4)} ThreadMap any / Map: ${ratio('ThreadMap any', 'Map')} (copied probes), ` +
        `${ratio('ThreadMap any, stored probes', 'Map, stored probes')} (stored probes)`,
    )
  }
  return rows.join('\n')
}
