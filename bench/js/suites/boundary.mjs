// The cost of one ThreadMap operation against the Node-API floor, and the
// per-operation targets of issue 6, single thread. Every group is measured
// interleaved (lib/measure.mjs), so its ratios come from one run:
//
//   call     1,000 string keys (all in cache): Map, ThreadMap get/has/set
//            (and get on 1,000 number keys), and the floor: an empty native call, one that reads a number,
//            one that reads a short string (as UTF-16, as the codecs do; and
//            as UTF-8, Node-API's conversion), and one that also looks the
//            string up in a plain single-threaded table and hands the value
//            back through a Float64Array: the cheapest get any native map
//            reached through Node-API can have
//   strings  1,000,000 string keys in random order: get, set (overwrite),
//            and the two string floors (the lookup floor's table is then
//            64 MB: its lookup is one cache miss), the lookup floor also as
//            a dependent chain; get also with probes that are the very
//            string objects stored (Map then matches by identity; elsewhere
//            probes are equal copies, as keys parsed from input would be)
//   numbers  1,000,000 number keys, side by side: spread over 2^32 (half of
//            them heap numbers to V8) and 0..n-1 (below 2^31: small integers
//            V8 keeps unboxed); get, and getMany of 1,000 random keys a call
//            over the whole key space from an array and from a Float64Array,
//            against a Map.get loop over the same keys
//   (both large groups also time get as a dependent chain, where each key's
//   index depends on the answer before it: see getChainKernel)
//   peers    1,000,000 string keys: get on ThreadMap, lmdb-js and sharedmap
//            (the adapters of lib/peers.mjs), beside Map and the lookup
//            floor, with a note of each peer's time over the floor's
//   memory   bytes per entry of 1,000,000 'key:' + i -> number entries, Map
//            and ThreadMap each in a fresh process (suites/memory-child.mjs)
//
// Kernels are self-contained so that fresh() gives every contender its own
// compiled copy.

import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { loadLab } from '../../../native/lab/index.js'
import { makeKeys, permutation, probeOrder } from '../lib/keys.mjs'
import { fresh, measureInterleaved } from '../lib/measure.mjs'
import { attachPeer, createPeer, peerUnavailable } from '../lib/peers.mjs'
import { closeQuietly, newThreadMap } from '../lib/threadmap.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))

export const BOUNDARY_GROUPS = ['call', 'strings', 'numbers', 'peers', 'memory']

function getKernel(m, probe, start, end) {
  let sum = 0
  for (let i = start; i < end; i++) sum += m.get(probe[i])
  return sum
}

// The same lookups, but each key's index depends on the previous answer
// (values are indices below 2^31, so `v >>> 31` is 0, which the compiler
// cannot know): no lookup can start before the one before it has finished,
// so this times a lookup's latency. In getKernel the lookups are
// independent, and an inlined Map.get lets the CPU overlap the cache misses
// of several iterations; a native call runs too many instructions for that.
function getChainKernel(m, probe, start, end) {
  let sum = 0
  let j = start
  for (let i = start; i < end; i++) {
    const v = m.get(probe[j])
    sum += v
    j = i + 1 + (v >>> 31)
  }
  return sum
}

function hasKernel(m, probe, start, end) {
  let n = 0
  for (let i = start; i < end; i++) if (m.has(probe[i])) n++
  return n
}

function setKernel(m, probe, values, start, end) {
  for (let i = start; i < end; i++) m.set(probe[i], values[i])
  return end - start
}

function floorKernel(fn, probe, start, end) {
  for (let i = start; i < end; i++) fn(probe[i])
  return end - start
}

function floorNumberKernel(fn, probe, start, end) {
  for (let i = start; i < end; i++) fn(i)
  return end - start
}

// floor.lookup leaves the value in out[0]; summing it makes the answer used,
// as getKernel uses Map.get's.
function floorLookupKernel(fn, out, probe, start, end) {
  let sum = 0
  for (let i = start; i < end; i++) {
    fn(probe[i])
    sum += out[0]
  }
  return sum
}

// floorLookupKernel as a dependent chain, the way getChainKernel times get.
function floorLookupChainKernel(fn, out, probe, start, end) {
  let sum = 0
  let j = start
  for (let i = start; i < end; i++) {
    fn(probe[j])
    const v = out[0]
    sum += v
    j = i + 1 + (v >>> 31)
  }
  return sum
}

function noopKernel(fn, probe, start, end) {
  for (let i = start; i < end; i++) fn()
  return end - start
}

// chunks: the probe keys cut into arrays (or Float64Array views) of 1,000.
function getManyKernel(m, chunks, start, end) {
  let sum = 0
  for (let c = start; c < end; c++) {
    const values = m.getMany(chunks[c])
    sum += values[0] + values[values.length - 1]
  }
  return sum
}

const SPAN = 16_384

// Walks [0, n) in spans, wrapping around; `per` operations per index.
function spans(n, run, per = 1) {
  const span = Math.max(1, Math.min(n, Math.floor(SPAN / per)))
  let cursor = 0
  return () => {
    const start = cursor
    const end = Math.min(start + span, n)
    cursor = end === n ? 0 : end
    return { ops: (end - start) * per, result: run(start, end) }
  }
}

// A contender's step: a fresh copy of `kernel` run as kernel(...args, start, end).
function stepOf(kernel, n, args, per = 1) {
  const f = fresh(kernel)
  return spans(n, (s, e) => f(...args, s, e), per)
}

// The floor is the lab addon's (native/lab), which the package does not ship.
function floorOf() {
  return loadLab().floor
}

// The lookup floor over `keys` (key i maps to i), checked like a map; timed
// by `kernel` (floorLookupKernel or floorLookupChainKernel).
function lookupFloorStep(floor, keys, probe, values, n, kernel = floorLookupKernel) {
  const out = new Float64Array(1)
  floor.lookupLoad(keys, out)
  for (let i = 0; i < probe.length; i++) {
    floor.lookup(probe[i])
    if (out[0] !== values[i]) throw new Error(`floor lookup: wrong value for ${probe[i]}`)
  }
  return stepOf(kernel, n, [floor.lookup, out, probe])
}

function checkAll(m, probe, values, label) {
  for (let i = 0; i < probe.length; i++) {
    if (m.get(probe[i]) !== values[i]) throw new Error(`${label}: wrong value for ${probe[i]}`)
  }
}

function fill(m, keys) {
  for (let i = 0; i < keys.length; i++) m.set(keys[i], i)
  return m
}

/** One measured group: contenders [{ impl, op, baseline?, step }], recorded with their ratios; returns the summaries. */
function measureGroup(group, size, keyType, contenders, opts, record) {
  const summaries = measureInterleaved(contenders, opts)
  contenders.forEach((c, i) =>
    record({
      suite: 'boundary',
      group,
      size,
      keyType,
      impl: c.impl,
      op: c.op,
      vs: c.vs ?? null,
      baseline: !!c.baseline,
      ...summaries[i],
    }),
  )
  return summaries
}

function callGroup(opts, record) {
  const n = 1000
  const keys = makeKeys(n, opts.seed)
  const { probe, values } = probeOrder(n, opts.seed, opts.seed + 1)
  const map = fill(new Map(), keys)
  const tm = fill(newThreadMap(opts.strategy), keys)
  checkAll(tm, probe, values, 'ThreadMap')
  const nkeys = makeKeys(n, opts.seed, 'number')
  const { probe: nprobe, values: nvalues } = probeOrder(n, opts.seed, opts.seed + 1, 'number')
  const nmap = fill(new Map(), nkeys)
  const ntm = fill(newThreadMap(opts.strategy, 'number'), nkeys)
  checkAll(ntm, nprobe, nvalues, 'ThreadMap, number keys')
  const floor = floorOf()
  const contenders = [
    { impl: 'Map', op: 'get', baseline: true, step: stepOf(getKernel, n, [map, probe]) },
    { impl: 'ThreadMap', op: 'get', vs: 'Map get', step: stepOf(getKernel, n, [tm, probe]) },
    { impl: 'Map', op: 'get, number keys', step: stepOf(getKernel, n, [nmap, nprobe]) },
    { impl: 'ThreadMap', op: 'get, number keys', vs: 'Map get, number keys', step: stepOf(getKernel, n, [ntm, nprobe]) },
    { impl: 'Map', op: 'has', step: stepOf(hasKernel, n, [map, probe]) },
    { impl: 'ThreadMap', op: 'has', vs: 'Map has', step: stepOf(hasKernel, n, [tm, probe]) },
    { impl: 'Map', op: 'set', step: stepOf(setKernel, n, [map, probe, values]) },
    { impl: 'ThreadMap', op: 'set', vs: 'Map set', step: stepOf(setKernel, n, [tm, probe, values]) },
    { impl: 'floor', op: 'empty call', vs: 'Map get', step: stepOf(noopKernel, n, [floor.noop, probe]) },
    { impl: 'floor', op: 'read a number', vs: 'Map get', step: stepOf(floorNumberKernel, n, [floor.number, probe]) },
    { impl: 'floor', op: 'read a string (UTF-16)', vs: 'Map get', step: stepOf(floorKernel, n, [floor.string, probe]) },
    { impl: 'floor', op: 'read a string (UTF-8)', vs: 'Map get', step: stepOf(floorKernel, n, [floor.stringUtf8, probe]) },
    { impl: 'floor', op: 'read a string + plain-table lookup', vs: 'Map get', step: lookupFloorStep(floor, keys, probe, values, n) },
  ]
  measureGroup('call', n, 'string', contenders, opts, record)
  checkAll(tm, probe, values, 'ThreadMap after the run')
  closeQuietly(tm)
  closeQuietly(ntm)
}

function stringsGroup(opts, record) {
  const n = opts.bigSize
  const keys = makeKeys(n, opts.seed)
  const { probe, values } = probeOrder(n, opts.seed, opts.seed + 1)
  const map = fill(new Map(), keys)
  const tm = fill(newThreadMap(opts.strategy), keys)
  checkAll(tm, probe, values, 'ThreadMap')
  // The same order, but each probe the string object stored under its key.
  const same = Array.from(values, (v) => keys[v])
  checkAll(tm, same, values, 'ThreadMap, stored string objects')
  const floor = floorOf()
  const contenders = [
    { impl: 'Map', op: 'get', baseline: true, step: stepOf(getKernel, n, [map, probe]) },
    { impl: 'ThreadMap', op: 'get', vs: 'Map get', step: stepOf(getKernel, n, [tm, probe]) },
    { impl: 'Map', op: 'get, probes are the stored strings', step: stepOf(getKernel, n, [map, same]) },
    {
      impl: 'ThreadMap',
      op: 'get, probes are the stored strings',
      vs: 'Map get, probes are the stored strings',
      step: stepOf(getKernel, n, [tm, same]),
    },
    { impl: 'Map', op: 'set', step: stepOf(setKernel, n, [map, probe, values]) },
    { impl: 'ThreadMap', op: 'set', vs: 'Map set', step: stepOf(setKernel, n, [tm, probe, values]) },
    { impl: 'Map', op: 'get, dependent chain', step: stepOf(getChainKernel, n, [map, probe]) },
    { impl: 'ThreadMap', op: 'get, dependent chain', vs: 'Map get, dependent chain', step: stepOf(getChainKernel, n, [tm, probe]) },
    { impl: 'floor', op: 'read a string (UTF-16)', vs: 'Map get', step: stepOf(floorKernel, n, [floor.string, probe]) },
    { impl: 'floor', op: 'read a string + plain-table lookup', vs: 'Map get', step: lookupFloorStep(floor, keys, probe, values, n) },
    {
      impl: 'floor',
      op: 'read a string + plain-table lookup, dependent chain',
      vs: 'ThreadMap get, dependent chain',
      step: lookupFloorStep(floor, keys, probe, values, n, floorLookupChainKernel),
    },
  ]
  measureGroup('strings', n, 'string', contenders, opts, record)
  checkAll(tm, probe, values, 'ThreadMap after the run')
  closeQuietly(tm)
}

// One number-key set of the numbers group: its maps, probes and contenders,
// every ratio against its own Map.get loop. `label` ends each op's name.
function numberContenders(opts, keys, probe, values, label) {
  const n = keys.length
  const per = 1000
  const map = fill(new Map(), keys)
  const tm = fill(newThreadMap(opts.strategy, 'number'), keys)
  checkAll(tm, probe, values, `ThreadMap${label}`)
  const typed = Float64Array.from(probe)
  const arrays = []
  const views = []
  for (let i = 0; i + per <= n; i += per) {
    arrays.push(probe.slice(i, i + per))
    views.push(typed.subarray(i, i + per))
  }
  const got = tm.getMany(views[0])
  for (let i = 0; i < per; i++) if (got[i] !== values[i]) throw new Error(`getMany${label}: wrong value`)
  const chunks = arrays.length
  const mapGet = `Map get${label}`
  const contenders = [
    { impl: 'Map', op: `get${label}`, step: stepOf(getKernel, n, [map, probe]) },
    { impl: 'ThreadMap', op: `get${label}`, vs: mapGet, step: stepOf(getKernel, n, [tm, probe]) },
    { impl: 'ThreadMap', op: `getMany, arrays of 1,000${label}`, vs: mapGet, step: stepOf(getManyKernel, chunks, [tm, arrays], per) },
    { impl: 'ThreadMap', op: `getMany, Float64Array of 1,000${label}`, vs: mapGet, step: stepOf(getManyKernel, chunks, [tm, views], per) },
    { impl: 'Map', op: `get, dependent chain${label}`, step: stepOf(getChainKernel, n, [map, probe]) },
    { impl: 'ThreadMap', op: `get, dependent chain${label}`, vs: `Map get, dependent chain${label}`, step: stepOf(getChainKernel, n, [tm, probe]) },
  ]
  return { contenders, tm }
}

function numbersGroup(opts, record) {
  const n = opts.bigSize
  // Spread over 2^32: unique integers below 2^32, about half of them above
  // 2^31 and so heap numbers in V8.
  const spread = makeKeys(n, opts.seed, 'number')
  const s = probeOrder(n, opts.seed, opts.seed + 1, 'number')
  // Small: 0..n-1 in the same random order, all small integers (Smis).
  const order = permutation(n, opts.seed + 1)
  const small = Array.from({ length: n }, (_, i) => i)
  const smallProbe = Array.from(order)
  const smallValues = Float64Array.from(order)
  const a = numberContenders(opts, spread, s.probe, s.values, '')
  const b = numberContenders(opts, small, smallProbe, smallValues, ', keys 0..n-1')
  a.contenders[0].baseline = true
  const floor = floorOf()
  const contenders = [
    ...a.contenders,
    ...b.contenders,
    { impl: 'floor', op: 'read a number', vs: 'Map get', step: stepOf(floorNumberKernel, n, [floor.number, s.probe]) },
  ]
  measureGroup('numbers', n, 'number', contenders, opts, record)
  closeQuietly(a.tm)
  closeQuietly(b.tm)
}

function peersGroup(opts, record, notes) {
  const n = opts.bigSize
  const keys = makeKeys(n, opts.seed)
  const { probe, values } = probeOrder(n, opts.seed, opts.seed + 1)
  const map = fill(new Map(), keys)
  const tm = fill(newThreadMap(opts.strategy), keys)
  const floor = floorOf()
  const contenders = [
    { impl: 'Map', op: 'get', baseline: true, step: stepOf(getKernel, n, [map, probe]) },
    { impl: 'ThreadMap', op: 'get', vs: 'Map get', step: stepOf(getKernel, n, [tm, probe]) },
    { impl: 'floor', op: 'read a string + plain-table lookup', vs: 'ThreadMap get', step: lookupFloorStep(floor, keys, probe, values, n) },
  ]
  const made = []
  for (const name of ['lmdb', 'sharedmap']) {
    const why = peerUnavailable(name)
    if (why) {
      notes.push(`boundary peers: ${name} skipped: ${why}`)
      continue
    }
    const peer = createPeer(name, keys)
    made.push(peer)
    const face = attachPeer(name, peer.handle)
    checkAll(face, probe.slice(0, 1000), values, name)
    contenders.push({ impl: name, op: 'get', vs: 'ThreadMap get', step: stepOf(getKernel, n, [face, probe]) })
  }
  const summaries = measureGroup('peers', n, 'string', contenders, opts, record)
  // The best ratio any Node-API map could show against each peer here: the
  // peer's time over the lookup floor's (issue 6 asks for 5x lmdb-js and 10x
  // sharedmap).
  const floorNs = summaries[2].nsPerOp
  contenders.forEach((c, i) => {
    if (c.impl === 'lmdb' || c.impl === 'sharedmap') {
      const peerNs = summaries[i].nsPerOp
      notes.push(
        `boundary peers: ${c.impl} get ${peerNs.toFixed(0)} ns is ${(peerNs / floorNs).toFixed(2)}x the lookup floor (${floorNs.toFixed(0)} ns) ` +
          `and ${(peerNs / summaries[1].nsPerOp).toFixed(2)}x ThreadMap get: no native map reached through Node-API could be more than ${(peerNs / floorNs).toFixed(2)}x faster here`,
      )
    }
  })
  for (const p of made) p.close()
  closeQuietly(tm)
}

function memoryGroup(opts, record) {
  const child = path.join(here, 'memory-child.mjs')
  const run = (impl, presized) =>
    JSON.parse(
      execFileSync(process.execPath, ['--expose-gc', child, impl, String(opts.bigSize), opts.strategy, presized ? 'presized' : 'grown'], {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      }).trim(),
    )
  for (const [impl, presized] of [
    ['map', false],
    ['threadmap', false],
    ['threadmap', true],
  ]) {
    const r = run(impl, presized)
    record({
      suite: 'boundary',
      group: 'memory',
      size: opts.bigSize,
      keyType: 'string',
      impl: impl === 'map' ? 'Map' : presized ? 'ThreadMap (capacity preset)' : 'ThreadMap',
      op: 'fill',
      baseline: impl === 'map',
      memory: r,
    })
  }
}

export function boundarySteps(opts) {
  return opts.groups.length
}

/**
 * @param opts {groups, strategy, bigSize, seed, samples, sampleMs, warmupMs}
 */
export async function runBoundary(opts, record, bar, notes) {
  const groups = { call: callGroup, strings: stringsGroup, numbers: numbersGroup, peers: peersGroup, memory: memoryGroup }
  for (const g of opts.groups) {
    bar.label(`boundary: ${g}`)
    groups[g](opts, record, notes)
    bar.tick(`boundary: ${g}`)
  }
}
