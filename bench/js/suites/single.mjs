// Single thread: get, set and insert of ThreadMap (each strategy) against
// V8's Map, on n string keys (number values) looked up in random order.
//
//   get     map.get(key) over every key in a random order (all hits)
//   set     map.set(key, value) on keys already present, random order
//           (the value written is the one already stored, so the map's
//           contents, and the next figure's conditions, stay the same)
//   insert  a new map, then map.set(key, i) for n new keys in key order
//           (growth included; closing the map afterwards is not timed)
//
// For each size and operation, Map and the ThreadMaps are measured
// interleaved (lib/measure.mjs), all maps alive at once. Every ThreadMap is
// created with the run's numa option (--numa), and its placement is read
// (stats().numa, untimed) when it is closed, the insert ones included.

import { makeKeys, probeOrder } from '../lib/keys.mjs'
import { fresh, measureInterleaved } from '../lib/measure.mjs'
import { newThreadMap, statsOf } from '../lib/threadmap.mjs'

// Kernels are self-contained so that fresh() can give every implementation
// and operation its own compiled copy.
function getKernel(m, probe, start, end) {
  let sum = 0
  for (let i = start; i < end; i++) sum += m.get(probe[i])
  return sum
}

function setKernel(m, probe, values, start, end) {
  for (let i = start; i < end; i++) m.set(probe[i], values[i])
  return end - start
}

function fillKernel(m, keys) {
  for (let i = 0; i < keys.length; i++) m.set(keys[i], i)
  return m
}

const BATCH = 16_384

function implementations(opts, placement) {
  return [
    { name: 'Map', baseline: true, create: () => new Map(), close: () => {} },
    ...opts.strategies.map((s) => ({
      name: `ThreadMap ${s}`,
      strategy: s,
      create: () => newThreadMap(s, opts.keyType, opts.numa),
      close: (m) => {
        placement.addMap('single', s, m.stats().numa)
        m.close()
      },
    })),
  ]
}

// Every key must map to its index: each implementation returns what the
// figures claim it looked up (checked untimed, before and after).
function verify(m, keys, probe, values, label) {
  if (m.size !== keys.length) throw new Error(`${label}: size ${m.size}, expected ${keys.length}`)
  for (let i = 0; i < probe.length; i++) {
    const got = m.get(probe[i])
    if (got !== values[i]) throw new Error(`${label}: get(${probe[i]}) = ${got}, expected ${values[i]}`)
  }
}

// Walks the probe array in batches, wrapping around.
function batched(n, run) {
  const batch = Math.min(n, BATCH)
  let cursor = 0
  return () => {
    const start = cursor
    const end = Math.min(start + batch, n)
    cursor = end === n ? 0 : end
    return { ops: end - start, result: run(start, end) }
  }
}

function contender(op, impl, m, keys, probe, values) {
  const n = keys.length
  if (op === 'get') {
    const kernel = fresh(getKernel)
    return { step: batched(n, (s, e) => kernel(m, probe, s, e)) }
  }
  if (op === 'set') {
    const kernel = fresh(setKernel)
    return { step: batched(n, (s, e) => kernel(m, probe, values, s, e)) }
  }
  const kernel = fresh(fillKernel)
  return { step: () => ({ ops: n, result: kernel(impl.create(), keys) }), after: (filled) => impl.close(filled) }
}

export async function runSingle(opts, record, bar, notes, placement) {
  for (const n of opts.sizes) {
    const count = n.toLocaleString('en-US')
    bar.label(`${count} keys: making keys and maps`)
    const keys = makeKeys(n, opts.seed, opts.keyType)
    const { probe, values } = probeOrder(n, opts.seed, opts.seed + 1, opts.keyType)
    const impls = implementations(opts, placement)
    const maps = impls.map((impl) => {
      const m = fresh(fillKernel)(impl.create(), keys)
      verify(m, keys, probe, values, `${impl.name}, ${count} keys`)
      return m
    })

    for (const op of opts.ops) {
      bar.label(`${count} keys: ${op}`)
      // A fill of a big map takes a while: one per sample, one to warm up.
      const o = op === 'insert' && n >= 100_000 ? { ...opts, warmupMs: 0, sampleMs: 0 } : opts
      const summaries = measureInterleaved(
        impls.map((impl, i) => contender(op, impl, maps[i], keys, probe, values)),
        o,
      )
      impls.forEach((impl, i) =>
        record({
          suite: 'single',
          keyType: opts.keyType,
          op,
          size: n,
          impl: impl.name,
          strategy: impl.strategy ?? null,
          baseline: !!impl.baseline,
          ...summaries[i],
          stats: impl.strategy ? statsOf(maps[i]) : null,
        }),
      )
      bar.tick(`${count} keys: ${op}`)
    }
    impls.forEach((impl, i) => {
      verify(maps[i], keys, probe, values, `${impl.name}, ${count} keys, after the run`)
      impl.close(maps[i])
    })
  }
}
