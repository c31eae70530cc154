// The read cache is never stale, from workers (issue 14): a writer worker
// makes random writes of every kind and acknowledges each (a shared epoch
// counter), a reader worker reads the same keys through its read cache
// (most gets hits, on striped, mutex and rwlock maps without a native call:
// lib/read-cache.ts, "Hits without a call"). Each get is checked against
// the writer's log: it must return the key's state at some epoch between
// the one acknowledged before it began and the one after the last
// acknowledged when it returned (that write may be under way). A reader
// that answers from a memo of its own must be caught, so the check can fail.
import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { runWorker, STRATEGIES } from './helpers'

const VERSIONED = ['striped', 'mutex', 'rwlock']

interface Writer {
  changes: [number, string, string][]
  errors: string[]
}
interface Reader {
  log: [string, number, number, string][]
  fast: number
  hits: number
  misses: number
}

async function run(strategy: string, seed: number, broken: boolean, epochs = 300) {
  const map = new ThreadMap<string, unknown>(null, { keys: 'string', strategy: strategy as never, readCache: 64 })
  const sab = new SharedArrayBuffer(12)
  const common = { handle: map.handle(), sab, epochs, broken }
  const [writer, reader] = await Promise.all([
    runWorker<Writer>('read-cache-fuzz.mjs', { ...common, role: 'writer', seed }),
    runWorker<Reader>('read-cache-fuzz.mjs', { ...common, role: 'reader', seed: seed * 7 + 3 }),
  ])
  map.close()
  return { writer, reader, stale: stale(writer, reader, epochs) }
}

// The reads no epoch in their window explains.
function stale(writer: Writer, reader: Reader, epochs: number): string[] {
  const timeline = new Map<string, string[]>() // key -> state after each epoch 0..epochs
  for (const [e, key, s] of writer.changes) {
    let t = timeline.get(key)
    if (!t) timeline.set(key, (t = Array<string>(epochs + 1).fill('-')))
    for (let i = e; i <= epochs; i++) t[i] = s
  }
  const bad: string[] = []
  for (const [key, before, after, s] of reader.log) {
    const t = timeline.get(key)
    let ok = false
    for (let e = before; e <= Math.min(after + 1, epochs) && !ok; e++) ok = (t ? t[e] : '-') === s
    if (!ok && bad.length < 5) bad.push(`${key} read ${s} between epochs ${before} and ${after}`)
  }
  return bad
}

describe.each(STRATEGIES)('workers: the read cache is never stale (%s)', (strategy) => {
  test.each([1, 2])('random writes of every kind against a reader, seed %i', async (seed) => {
    const { writer, reader, stale: bad } = await run(strategy, seed, false)
    expect(writer.errors).toEqual([])
    expect(bad).toEqual([])
    expect(reader.log.length).toBeGreaterThan(1000)
    expect(reader.hits).toBeGreaterThan(reader.log.length / 10)
    if (VERSIONED.includes(strategy)) expect(reader.fast).toBeGreaterThan(reader.log.length / 10)
    else expect(reader.fast).toBe(0)
  })
})

test('the check catches a reader that keeps answering from its own memo', async () => {
  const { stale: bad } = await run('striped', 1, true)
  expect(bad.length).toBeGreaterThan(0)
})
