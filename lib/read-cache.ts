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
  // CLOCK over slots: the key's slot in #slotOf, and per slot, side by
  // side in #slots (SLOT elements each), everything a hit reads: the value,
  // where its read lay (the pin: io_protocol.hpp, "Write versions": the
  // word's Int32 index and halves) and the reference bit. A hit therefore
  // reads the Map, one run of #slots and the value: with the value, the pin
  // and the bit in three arrays, each hit on a large cache missed on all
  // three (docs/benchmarks.md, "Read cache"). The halves are Smis where
  // Node's Smis hold 32 bits (x64 builds without pointer compression), so
  // the run holds no pointer to chase. A miss that replaces an entry
  // allocates nothing of the cache's (no entry object, no Map iterator).
  // The hand passes used slots (clearing their bit) and takes the first
  // unused one. Moving the entry on every hit instead (exact LRU: a delete
  // and a set on a large Map) doubled the cost of a hit at 100,000 entries,
  // and an entry object per key cost a miss more. A slot with no read to
  // trust holds NO_PIN's halves, which no word reaches.
  readonly #slotOf = new Map<unknown, number>()
  readonly #slots: unknown[] = []
  // Read only when a get calls native code, or when an entry is replaced.
  readonly #keys: unknown[] = []
  readonly #revisions: number[] = []
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
    this.#slots[slot * SLOT + USED] = true
    return slot
  }

  /** The revision of the entry in `slot` (a result of find()). */
  revisionAt(slot: number): number {
    return this.#revisions[slot]
  }

  /** The value of the entry in `slot` (a result of find()). */
  valueAt(slot: number): unknown {
    return this.#slots[slot * SLOT + VALUE]
  }

  /**
   * Whether the entry in `slot` is current by its write version: `words`
   * (readVersions' buffer) still holds the version its read lay in. See the
   * essay for why the two loads are enough.
   */
  fresh(slot: number, words: Int32Array): boolean {
    const d = this.#slots
    const j = slot * SLOT
    const i = d[j + AT] as number
    return Atomics.load(words, i) === d[j + LOW] && Atomics.load(words, i + 1) === d[j + HIGH]
  }

  /**
   * Where the read that confirmed the entry in `slot` lay: the io buffer's
   * version slots (NO_PIN's halves when the read had no version).
   */
  pin(slot: number, at: number, low: number, high: number): void {
    const d = this.#slots
    const j = slot * SLOT
    d[j + AT] = at
    d[j + LOW] = low
    d[j + HIGH] = high
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
    const d = this.#slots
    const j = slot * SLOT
    d[j + VALUE] = value
    d[j + USED] = false
    this.#revisions[slot] = revision
    this.pin(slot, at, low, high)
    return value
  }

  drop(key: unknown): void {
    const slot = this.#slotOf.get(key)
    if (slot !== undefined) this.#release(key, slot)
  }

  clear(): void {
    this.#slotOf.clear()
    this.#slots.length = 0
    this.#keys.length = 0
    this.#revisions.length = 0
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
      // The fields in SLOT order (VALUE, AT, LOW, HIGH, USED), appended so
      // the array stays packed.
      this.#slots.push(undefined, 0, NO_PIN.low, NO_PIN.high, false)
      this.#keys.push(undefined)
      this.#revisions.push(0)
      return n
    }
    const d = this.#slots
    for (;;) {
      const slot = this.#hand
      this.#hand = slot + 1 === n ? 0 : slot + 1
      if (d[slot * SLOT + USED] === true) {
        d[slot * SLOT + USED] = false
        continue
      }
      this.#slotOf.delete(this.#keys[slot])
      return slot
    }
  }

  #release(key: unknown, slot: number): void {
    this.#slotOf.delete(key)
    this.#keys[slot] = undefined
    const d = this.#slots
    d[slot * SLOT + VALUE] = undefined // keep no value alive
    d[slot * SLOT + USED] = false
    this.pin(slot, 0, NO_PIN.low, NO_PIN.high)
    this.#free.push(slot)
  }
}

// A slot's fields in ReadCache's #slots: SLOT elements from slot * SLOT.
const VALUE = 0
const AT = 1
const LOW = 2
const HIGH = 3
const USED = 4
const SLOT = 5

// The halves of a version no stripe word reaches (2^64 - 2^32 + 1: as many
// writes to one stripe), which native code also answers for a read with no
// version (io_protocol.hpp, "Write versions"), so a slot holding them never
// matches.
const NO_PIN = Object.freeze({ low: 1, high: -1 })

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
