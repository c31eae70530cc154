// The per-thread read cache (the readCache option; README, "Read cache"):
// decoded values of one map, each with the revision of the entry it was
// decoded from; past `limit` entries, one not used since the clock's hand
// last passed it goes (CLOCK: the least recently used, approximately). get() passes
// the cached revision to native code, which answers "unchanged" without
// copying when the entry still has it (native/addon/io_protocol.hpp, "Read
// cache"). Revisions are unique per map (native/core/include/threadmap/
// detail/revision.hpp), so an equal revision is the same version of the
// entry: a cached value is never stale. Values are deep-frozen, because one
// object is handed to every get that hits.
//
// Hits without a call (maps with write versions: native/addon/io_protocol.hpp
// and threadmap/detail/striped.hpp, "Write versions"). Each get's answer
// also says where its read lay: the Int32 index of the low half of the
// key's stripe word and the halves of the even version V that word held
// around the read. An entry keeps them with the value decoded from that
// read (pin()), and fresh() returns it with no call while the word still
// holds V. striped.hpp proves that the word holding V at a load means no
// write of the stripe began since the read, and that a write acknowledged
// before the get began has made it V + 1 or more by the load.
//
// Why two loads, low half first, are enough. The word only grows (one per
// section edge), and a thread's later load never sees an earlier value of
// it than its earlier load did. Let L be the low half of the value A the
// first load saw, H the high half of the value B the second saw, so
// V <= A <= B (V was seen by an earlier read of this thread). Suppose the
// pair matches, L = low(V) and H = high(V). Then high(V) <= high(A) <=
// high(B) = high(V), so A and V have the same high half, and the same low
// half: A = V, and at the first load no write of the stripe had begun
// since the read. A torn pair (halves of two values) can therefore only
// fail to match. (High first would not do: after 2^32 sections the low half
// repeats, and a high half read before the carry would pair with it.)

export class ReadCache {
  readonly limit: number
  hits = 0
  misses = 0
  // CLOCK over slots: the key's slot in #slotOf, and per slot its key,
  // value, revision and reference bit in arrays, so a hit reads a Smi from
  // the Map and then dense arrays, and a miss that replaces an entry
  // allocates nothing of the cache's (no entry object, no Map iterator).
  // The hand passes used slots (clearing their bit) and takes the first
  // unused one. Moving the entry on every hit instead (exact LRU: a delete
  // and a set on a large Map) doubled the cost of a hit at 100,000 entries,
  // and an entry object per key cost a miss more (docs/benchmarks.md, "Read
  // cache").
  readonly #slotOf = new Map<unknown, number>()
  readonly #keys: unknown[] = []
  readonly #values: unknown[] = []
  readonly #revisions: number[] = []
  readonly #used: boolean[] = []
  // Per slot, where its value's read lay (io_protocol.hpp, "Write
  // versions"): the word's Int32 index and halves, side by side in 16
  // bytes (a hit reads one line of them, not three arrays'). A slot with
  // no read to trust holds NO_PIN's halves, which no word reaches. Grown by
  // doubling with the slots, as `limit` may be any size.
  #pins = newPins(16)
  // Slots emptied by drop(), reused before the hand evicts anything.
  readonly #free: number[] = []
  #hand = 0

  constructor(limit: number) {
    this.limit = limit
  }

  get size(): number {
    return this.#slotOf.size
  }

  /** The slot of `key`'s entry, marked as used; -1 when there is none. */
  find(key: unknown): number {
    const slot = this.#slotOf.get(key)
    if (slot === undefined) return -1
    this.#used[slot] = true
    return slot
  }

  /** The revision of the entry in `slot` (a result of find()). */
  revisionAt(slot: number): number {
    return this.#revisions[slot]
  }

  /** The value of the entry in `slot` (a result of find()). */
  valueAt(slot: number): unknown {
    return this.#values[slot]
  }

  /**
   * Whether the entry in `slot` is current by its write version: `words`
   * (readVersions' buffer) still holds the version its read lay in. See the
   * essay for why the two loads are enough.
   */
  fresh(slot: number, words: Int32Array): boolean {
    const p = this.#pins
    const j = slot << 2
    const i = p[j] as number
    return Atomics.load(words, i) === p[j + 1] && Atomics.load(words, i + 1) === p[j + 2]
  }

  /**
   * Where the read that confirmed the entry in `slot` lay: the io buffer's
   * version slots (NO_PIN's halves when the read had no version).
   */
  pin(slot: number, at: number, low: number, high: number): void {
    const j = slot << 2
    let p = this.#pins
    if (j + 4 > p.length) {
      const grown = newPins(Math.max(p.length >> 1, slot + 1))
      grown.set(p)
      this.#pins = p = grown
    }
    p[j] = at
    p[j + 1] = low
    p[j + 2] = high
  }

  /**
   * Keeps `value` (freezing it) as the entry of `key` at `revision`, in
   * `slot` when find() gave the key one, or drops the key's entry when the
   * value cannot be frozen whole (exotic objects: a Date or a Map stays
   * mutable through its methods). Returns the value.
   */
  store(
    key: unknown,
    value: unknown,
    revision: number,
    slot: number,
    at: number,
    low: number,
    high: number,
  ): unknown {
    if (slot >= 0 && this.#keys[slot] !== key) slot = this.#slotOf.get(key) ?? -1
    if (!deepFreeze(value)) {
      if (slot >= 0) this.#release(key, slot)
      return value
    }
    if (slot < 0) {
      slot = this.#claim()
      this.#slotOf.set(key, slot)
      this.#keys[slot] = key
    }
    this.#values[slot] = value
    this.#revisions[slot] = revision
    this.#used[slot] = false
    this.pin(slot, at, low, high)
    return value
  }

  drop(key: unknown): void {
    const slot = this.#slotOf.get(key)
    if (slot !== undefined) this.#release(key, slot)
  }

  clear(): void {
    this.#slotOf.clear()
    this.#keys.length = 0
    this.#values.length = 0
    this.#revisions.length = 0
    this.#used.length = 0
    this.#pins = newPins(16)
    this.#free.length = 0
    this.#hand = 0
  }

  // A slot for a new entry: a dropped one, a new one below the limit, or the
  // first unused one under the hand (each used one passed loses its bit, so
  // this ends within one lap).
  #claim(): number {
    const free = this.#free.pop()
    if (free !== undefined) return free
    const n = this.#keys.length
    if (n < this.limit) {
      this.#keys.push(undefined)
      this.#values.push(undefined)
      this.#revisions.push(0)
      this.#used.push(false)
      this.pin(n, 0, NO_PIN.low, NO_PIN.high)
      return n
    }
    for (;;) {
      const slot = this.#hand
      this.#hand = slot + 1 === n ? 0 : slot + 1
      if (this.#used[slot]) {
        this.#used[slot] = false
        continue
      }
      this.#slotOf.delete(this.#keys[slot])
      return slot
    }
  }

  #release(key: unknown, slot: number): void {
    this.#slotOf.delete(key)
    this.#keys[slot] = undefined
    this.#values[slot] = undefined // keep no value alive
    this.#used[slot] = false
    this.pin(slot, 0, NO_PIN.low, NO_PIN.high)
    this.#free.push(slot)
  }
}

// The halves of a version no stripe word reaches (2^64 - 2^32 + 1: as many
// writes to one stripe), which native code also answers for a read with no
// version (io_protocol.hpp, "Write versions"), so a slot holding them never
// matches.
const NO_PIN = Object.freeze({ low: 1, high: -1 })

// `slots` slots' pins (index, low, high, unused), none trusted.
function newPins(slots: number): Int32Array {
  const p = new Int32Array(4 * slots)
  for (let j = 0; j < p.length; j += 4) {
    p[j + 1] = NO_PIN.low
    p[j + 2] = NO_PIN.high
  }
  return p
}

// Deeper trees are not cached (each get then decodes): freezing them would
// recurse as deep as the tree.
const MAX_DEPTH = 64

// The objects of the value being stored, gathered by the one walk that
// checks it, then frozen (and forgotten) only when the whole tree can be:
// checking and freezing in two walks listed every object's keys twice.
const parts: object[] = []

/**
 * Freezes `v` whole and returns true when that makes it immutable
 * (primitives, and trees of plain objects and arrays of them); otherwise
 * changes nothing and returns false.
 */
function deepFreeze(v: unknown): boolean {
  const ok = gather(v, 0)
  if (ok) for (let i = 0; i < parts.length; i++) Object.freeze(parts[i])
  parts.length = 0
  return ok
}

function gather(v: unknown, depth: number): boolean {
  if (typeof v !== 'object' || v === null) return true
  if (depth > MAX_DEPTH) return false
  if (Array.isArray(v)) {
    if (Object.getPrototypeOf(v) !== Array.prototype) return false
    parts.push(v)
    for (let i = 0; i < v.length; i++) if (!gather(v[i], depth + 1)) return false
    return true
  }
  const proto: unknown = Object.getPrototypeOf(v)
  if (proto !== Object.prototype && proto !== null) return false
  parts.push(v)
  for (const k of Object.keys(v)) if (!gather((v as Record<string, unknown>)[k], depth + 1)) return false
  return true
}
