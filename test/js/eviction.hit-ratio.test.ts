// The hit-ratio bench (bench/js/suites/hitratio.mjs) prints what the lab
// addon's cacheSim counts when it replays a trace through the core's eviction
// policies (threadmap/detail/eviction/, driven by test/support/cachesim.hpp).
// Here a small reference of each policy, written from the headers' essays,
// replays the same traces and must count exactly the same hits, evictions,
// admissions and rejections: a differential check, so a figure the bench
// prints is one something can contradict. The bench's own Belady and
// lru-cache helpers are checked against brute force and a plain LRU.
import * as path from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, test } from 'vitest'

import { loadLab } from '../../native/lab'

const lab = loadLab()

// --- the replay's hash and stripe choice (test/support/cachesim.hpp) -------
const M64 = (1n << 64n) - 1n
const HASH_BITS = (1n << 56n) - 1n

function keyHash(key: number): bigint {
  let z = (BigInt(key) + 0x9e3779b97f4a7c15n) & M64
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64
  return z ^ (z >> 31n)
}
const lo32 = (h: bigint): number => Number(h & 0xffffffffn)

// --- the frequency sketch (sketch.hpp): one byte per 4-bit counter ---------
function spread(h: number): number {
  h = (h ^ (h >>> 16)) >>> 0
  h = Math.imul(h, 0x85ebca6b) >>> 0
  h = (h ^ (h >>> 13)) >>> 0
  h = Math.imul(h, 0xc2b2ae35) >>> 0
  return (h ^ (h >>> 16)) >>> 0
}

// Its size (wtinylfu.hpp): what 16 bytes an entry leave once the nodes (8),
// the table's handle (4), the read-buffer lanes (192 bytes each, halved while
// they cost more than a byte an entry), the object and the line that aligns
// the blocks are paid, never below one block per 32 entries.
const LANE_BYTES = 192
const REPLAY_LANES = 4 // cachesim.hpp's default, the maps' too
const POLICY_OBJECT_BYTES: number = lab.cacheSim('wtinylfu', 1, new Uint32Array([1])).memory.object

function lanesFor(capacity: number, lanes: number): number {
  while (lanes > 1 && lanes * LANE_BYTES > capacity) lanes /= 2
  return lanes
}

function sketchBlocks(capacity: number, lanes = REPLAY_LANES): number {
  const spare = 4 * capacity - lanesFor(capacity, lanes) * LANE_BYTES - POLICY_OBJECT_BYTES
  const fit = spare >= 128 ? Math.floor(spare / 64) - 1 : 1
  return Math.max(fit, Math.floor(capacity / 32))
}

class Sketch {
  readonly blocks: number
  readonly counters: Uint8Array
  readonly sample: number
  additions = 0
  constructor(capacity: number) {
    this.blocks = sketchBlocks(capacity)
    this.counters = new Uint8Array(this.blocks * 128)
    this.sample = 10 * capacity
  }
  private slots(h: number): number[] {
    const block = Number((BigInt(spread(h)) * BigInt(this.blocks)) >> 32n)
    const g = spread((h + 0x9e3779b9) >>> 0)
    const out = []
    for (let i = 0; i < 4; i++) {
      const word = 2 * i + ((g >>> i) & 1)
      out.push(block * 128 + word * 16 + ((g >>> (8 + 6 * i)) & 15))
    }
    return out
  }
  increment(h: number): void {
    let added = false
    for (const s of this.slots(h)) {
      if (this.counters[s] < 15) {
        this.counters[s]++
        added = true
      }
    }
    if (added && ++this.additions >= this.sample) {
      let odd = 0
      for (let i = 0; i < this.counters.length; i++) {
        odd += this.counters[i] & 1
        this.counters[i] >>= 1
      }
      const lost = Math.floor(odd / 4)
      this.additions = this.additions > lost ? Math.floor((this.additions - lost) / 2) : 0
    }
  }
  estimate(h: number): number {
    return Math.min(...this.slots(h).map((s) => this.counters[s]))
  }
}

// --- CLOCK regions (clock.hpp) ----------------------------------------------
interface RefNode {
  hash: bigint
  live: boolean
  ref: number
  prot: boolean
}

class Region {
  private hand = 0
  private demoteHand = 0
  private free: number[] = []
  live = 0
  protectedCount = 0
  constructor(
    private readonly nodes: RefNode[],
    private readonly base: number,
    readonly count: number,
    private readonly maxRef: number,
    private readonly quota: number,
  ) {
    for (let i = count - 1; i >= 0; i--) this.free.push(base + i)
  }
  owns(h: number): boolean {
    return h >= this.base && h < this.base + this.count
  }
  take(hash: bigint): number {
    const h = this.free.pop()
    if (h === undefined) return -1
    this.nodes[h] = { hash: hash & HASH_BITS, live: true, ref: 0, prot: false }
    this.live++
    return h
  }
  private next(which: 'hand' | 'demoteHand'): number {
    const h = this.base + this[which]
    this[which] = this[which] + 1 === this.count ? 0 : this[which] + 1
    return h
  }
  sweep(): number {
    if (this.live === 0) return -1
    if (this.protectedCount === this.live) this.demote()
    for (;;) {
      const h = this.next('hand')
      const n = this.nodes[h]
      if (!n.live || n.prot) continue
      if (n.ref === 0) return h
      n.ref--
    }
  }
  private demote(): void {
    for (;;) {
      const n = this.nodes[this.next('demoteHand')]
      if (!n.live || !n.prot) continue
      if (n.ref > 0) {
        n.ref--
        continue
      }
      n.prot = false
      this.protectedCount--
      return
    }
  }
  rebind(h: number, hash: bigint): void {
    if (this.nodes[h].prot) this.protectedCount--
    this.nodes[h] = { hash: hash & HASH_BITS, live: true, ref: 0, prot: false }
  }
  touch(h: number): void {
    const n = this.nodes[h]
    if (this.quota && !n.prot) {
      n.prot = true
      n.ref = 1
      if (++this.protectedCount > this.quota) this.demote()
      return
    }
    if (n.ref < this.maxRef) n.ref++
  }
}

interface Plan {
  h: number
  victim?: { hash: bigint; h: number }
  moved?: { from: number; to: number }
}

interface RefPolicy {
  read(h: number, hash: bigint): void
  insert(hash: bigint): Plan
  admitted: number
  rejected: number
}

const emptyNodes = (n: number): RefNode[] =>
  Array.from({ length: n }, () => ({ hash: 0n, live: false, ref: 0, prot: false }))

class RefClock implements RefPolicy {
  private readonly nodes: RefNode[]
  private readonly region: Region
  admitted = 0
  rejected = 0
  constructor(capacity: number) {
    this.nodes = emptyNodes(capacity)
    this.region = new Region(this.nodes, 0, capacity, 1, 0)
  }
  read(h: number, hash: bigint): void {
    const n = this.nodes[h]
    if (n.live && n.hash === (hash & HASH_BITS) && n.ref === 0) n.ref = 1
  }
  insert(hash: bigint): Plan {
    const h = this.region.take(hash)
    if (h >= 0) return { h }
    const v = this.region.sweep()
    const victim = { hash: this.nodes[v].hash, h: v }
    this.region.rebind(v, hash)
    return { h: v, victim }
  }
}

class RefWTinyLfu implements RefPolicy {
  private readonly nodes: RefNode[]
  private readonly window: Region
  private readonly main: Region
  private readonly sketch: Sketch
  admitted = 0
  rejected = 0
  constructor(capacity: number) {
    this.nodes = emptyNodes(capacity)
    const w = Math.max(1, Math.floor(capacity / 100))
    const m = capacity - w
    this.window = new Region(this.nodes, 0, w, 1, 0)
    this.main = new Region(this.nodes, w, m, 3, Math.floor((m * 80) / 100))
    this.sketch = new Sketch(capacity)
  }
  private region(h: number): Region {
    return this.window.owns(h) ? this.window : this.main
  }
  // A hit: applied at once (the replay drains before every insert and when a
  // lane fills, so no read is dropped and none is applied late).
  read(h: number, hash: bigint): void {
    this.sketch.increment(lo32(hash))
    const n = this.nodes[h]
    if (n.live && lo32(n.hash) === lo32(hash)) this.region(h).touch(h)
  }
  insert(hash: bigint): Plan {
    this.sketch.increment(lo32(hash))
    const h = this.window.take(hash)
    if (h >= 0) return { h }
    const c = this.window.sweep()
    const ch = this.nodes[c].hash
    const plan: Plan = { h: c }
    const m = this.main.take(ch)
    if (m >= 0) {
      plan.moved = { from: c, to: m }
      this.admitted++
    } else {
      const v = this.main.sweep()
      if (v >= 0 && this.sketch.estimate(lo32(ch)) > this.sketch.estimate(lo32(this.nodes[v].hash))) {
        plan.victim = { hash: this.nodes[v].hash, h: v }
        this.main.rebind(v, ch)
        plan.moved = { from: c, to: v }
        this.admitted++
      } else {
        plan.victim = { hash: ch, h: c }
        this.rejected++
      }
    }
    this.window.rebind(c, hash)
    return plan
  }
}

// The replay of cachesim.hpp over the references: stripes by the hash's top
// 32 bits, capacity shared out, get-then-set.
function replayReference(policy: 'wtinylfu' | 'clock', capacity: number, trace: Uint32Array, stripes = 1) {
  const parts = Array.from({ length: stripes }, (_, i) => {
    const cap = Math.floor(capacity / stripes) + (i < capacity % stripes ? 1 : 0)
    return {
      policy: policy === 'clock' ? new RefClock(cap) : new RefWTinyLfu(cap),
      table: new Map<number, number>(),
      keyAt: new Array<number>(cap).fill(-1),
    }
  })
  let hits = 0
  let evictions = 0
  for (const key of trace) {
    const hash = keyHash(key)
    const p = parts[Number(((hash >> 32n) * BigInt(stripes)) >> 32n)]
    const h = p.table.get(key)
    if (h !== undefined) {
      hits++
      p.policy.read(h, hash)
      continue
    }
    const plan = p.policy.insert(hash)
    if (plan.victim) {
      const victimKey = p.keyAt[plan.victim.h]
      if ((keyHash(victimKey) & HASH_BITS) !== plan.victim.hash) throw new Error('reference: victim hash')
      p.table.delete(victimKey)
      evictions++
    }
    if (plan.moved) {
      const movedKey = p.keyAt[plan.moved.from]
      p.table.set(movedKey, plan.moved.to)
      p.keyAt[plan.moved.to] = movedKey
    }
    p.table.set(key, plan.h)
    p.keyAt[plan.h] = key
  }
  const admitted = parts.reduce((a, p) => a + p.policy.admitted, 0)
  const rejected = parts.reduce((a, p) => a + p.policy.rejected, 0)
  return { hits, misses: trace.length - hits, evictions, admitted, rejected }
}

// A trace that exercises every path: a skewed hot set, a loop a little
// larger than most caches here, scans of new keys, and a drifting hot set
// (so protected entries are demoted and the sketch ages many times).
function makeTrace(length: number, seed: number): Uint32Array {
  let s = seed >>> 0
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
  const t = new Uint32Array(length)
  let cold = 1_000_000
  let loop = 0
  for (let i = 0; i < length; ) {
    const phase = next()
    const drift = Math.floor(i / 5000) * 37
    for (let j = 0; j < 200 && i < length; j++) {
      if (phase < 0.55) t[i++] = drift + Math.floor(300 * next() ** 3)
      else if (phase < 0.75) t[i++] = 500_000 + (loop++ % 90)
      else if (phase < 0.9) t[i++] = cold++
      else t[i++] = Math.floor(4000 * next())
    }
  }
  return t
}

describe('eviction policies: the lab replay against a reference', () => {
  const trace = makeTrace(40_000, 7)
  for (const policy of ['wtinylfu', 'clock'] as const) {
    for (const [capacity, stripes] of [
      [1, 1],
      [7, 1],
      [64, 1],
      [250, 1],
      [250, 3],
      [1000, 1],
      [1000, 3],
    ] as const) {
      test(`${policy}, capacity ${capacity}, ${stripes} instance(s): same hits, evictions, admissions`, () => {
        const got = lab.cacheSim(policy, capacity, trace, { stripes })
        const want = replayReference(policy, capacity, trace, stripes)
        expect({
          hits: got.hits,
          misses: got.misses,
          evictions: got.evictions,
          admitted: got.admitted,
          rejected: got.rejected,
        }).toEqual(want)
        expect(got.dropped).toBe(0)
        expect(got.hits).toBeGreaterThan(0)
        if (capacity > 1) expect(got.evictions).toBeGreaterThan(0)
      })
    }
  }

  test('memory per entry as the core counts it: at most 16 bytes in all for W-TinyLFU at 1,024 entries, 12 + the object for CLOCK', () => {
    const w = lab.cacheSim('wtinylfu', 1024, new Uint32Array([1, 2, 3]))
    // 4 lanes (768 bytes, under a byte an entry); the sketch takes the rest.
    const blocks = sketchBlocks(1024)
    expect(blocks).toBeGreaterThan(1024 / 32)
    expect(blocks).toBeLessThan(1024 / 16)
    expect(w.memory).toMatchObject({ capacity: 1024, nodes: 8192, sketch: 64 * (blocks + 1), buffers: 4 * LANE_BYTES, tablePerEntry: 4 })
    const total = 8192 + 64 * (blocks + 1) + 4 * LANE_BYTES + w.memory.object + 4 * 1024
    expect(w.memory.perEntry).toBeCloseTo(total / 1024, 9)
    expect(total).toBeLessThanOrEqual(16 * 1024)
    expect(16 * 1024 - total).toBeLessThan(64)
    // Three instances of 333-334: one lane each.
    const w3 = lab.cacheSim('wtinylfu', 1000, new Uint32Array([1]), { stripes: 3 })
    expect(w3.memory.buffers).toBe(3 * LANE_BYTES)
    expect(w3.memory.sketch).toBe(64 * (sketchBlocks(334) + sketchBlocks(333) * 2 + 3))
    const c = lab.cacheSim('clock', 1024, new Uint32Array([1]))
    expect(c.memory.perEntry).toBeCloseTo(12 + c.memory.object / 1024, 9)
    expect(lab.evictionPolicies).toEqual(['wtinylfu', 'clock'])
  })

  test('bad arguments are TypeError or RangeError', () => {
    const t = new Uint32Array([1, 2])
    expect(() => lab.cacheSim('lru' as 'clock', 10, t)).toThrow(TypeError)
    expect(() => lab.cacheSim('clock', 0, t)).toThrow(RangeError)
    expect(() => lab.cacheSim('clock', 1.5, t)).toThrow(RangeError)
    expect(() => lab.cacheSim('clock', 2 ** 31, t)).toThrow(RangeError)
    expect(() => lab.cacheSim('clock', 10, [1, 2] as unknown as Uint32Array)).toThrow(TypeError)
    expect(() => lab.cacheSim('clock', 10, new Int32Array(2) as unknown as Uint32Array)).toThrow(TypeError)
    expect(() => lab.cacheSim('clock', 10, t, { stripes: 11 })).toThrow(RangeError)
    expect(() => lab.cacheSim('wtinylfu', 10, t, { lanes: 3 })).toThrow(RangeError)
  })
})

// --- the bench's own helpers ----------------------------------------------
type Helpers = {
  beladyHits(trace: Uint32Array, capacity: number): number
  lruCacheHits(trace: Uint32Array, capacity: number): number
}
const helpers = async (): Promise<Helpers> =>
  (await import(pathToFileURL(path.resolve(__dirname, '../../bench/js/suites/hitratio.mjs')).href)) as Helpers

// The optimum by exhaustive search over cache contents (with bypass).
function bruteOptimum(trace: Uint32Array, capacity: number): number {
  const memo = new Map<string, number>()
  const best = (i: number, cache: number[]): number => {
    if (i === trace.length) return 0
    const id = `${i}:${cache.join(',')}`
    const known = memo.get(id)
    if (known !== undefined) return known
    const k = trace[i]
    let r: number
    if (cache.includes(k)) r = 1 + best(i + 1, cache)
    else {
      r = best(i + 1, cache) // bypass
      if (cache.length < capacity) r = Math.max(r, best(i + 1, [...cache, k].sort((a, b) => a - b)))
      else
        for (let j = 0; j < cache.length; j++) {
          const c = [...cache.slice(0, j), ...cache.slice(j + 1), k].sort((a, b) => a - b)
          r = Math.max(r, best(i + 1, c))
        }
    }
    memo.set(id, r)
    return r
  }
  return best(0, [])
}

describe('hit-ratio bench helpers', () => {
  test("Belady's count equals the exhaustive optimum on small traces", async () => {
    const { beladyHits } = await helpers()
    let s = 3
    for (let round = 0; round < 40; round++) {
      const length = 8 + (round % 9)
      const t = new Uint32Array(length)
      for (let i = 0; i < length; i++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0
        t[i] = (s >>> 16) % 5
      }
      for (const capacity of [1, 2, 3]) expect(beladyHits(t, capacity)).toBe(bruteOptimum(t, capacity))
    }
  })

  test('the lru-cache figure is exact LRU', async () => {
    const { lruCacheHits } = await helpers()
    const t = makeTrace(20_000, 3)
    for (const capacity of [1, 50, 300]) {
      const lru = new Map<number, true>()
      let hits = 0
      for (const k of t) {
        if (lru.delete(k)) {
          hits++
        } else if (lru.size >= capacity) {
          lru.delete(lru.keys().next().value as number)
        }
        lru.set(k, true)
      }
      expect(lruCacheHits(t, capacity)).toBe(hits)
    }
  })
})
