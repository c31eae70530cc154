// The per-thread read cache (the readCache option; README, "Read cache"):
// decoded values of one map, each with the revision of the entry it was
// decoded from; past `limit` entries, one not used since it was last looked
// at goes (CLOCK, second chance: the least recently used, approximately). get() passes
// the cached revision to native code, which answers "unchanged" without
// copying when the entry still has it (native/addon/io_protocol.hpp, "Read
// cache"). Revisions are unique per map (native/core/include/threadmap/
// detail/revision.hpp), so an equal revision is the same version of the
// entry: a cached value is never stale. Values are deep-frozen, because one
// object is handed to every get that hits.

export interface CachedValue {
  value: unknown
  revision: number
  // Used since eviction last passed it (CLOCK's reference bit).
  used: boolean
}

export class ReadCache {
  readonly limit: number
  hits = 0
  misses = 0
  // A Map iterates in insertion order: the clock's hand is its first entry.
  // A hit only sets `used`; eviction gives a used entry a second chance
  // (clears the bit, moves it to the end) and drops the first unused one.
  // Moving the entry on every hit (exact LRU: a delete and a set on a large
  // Map) doubled the cost of a hit at 100,000 entries (docs/benchmarks.md,
  // "Read cache").
  readonly #entries = new Map<unknown, CachedValue>()

  constructor(limit: number) {
    this.limit = limit
  }

  get size(): number {
    return this.#entries.size
  }

  /** The cached entry of `key`, marked as used; undefined when there is none. */
  lookup(key: unknown): CachedValue | undefined {
    const e = this.#entries.get(key)
    if (e !== undefined) e.used = true
    return e
  }

  /**
   * Keeps `value` (freezing it) as the entry of `key` at `revision`, or drops
   * the key's entry when the value cannot be frozen whole (exotic objects:
   * a Date or a Map stays mutable through its methods). Returns the value.
   */
  store(key: unknown, value: unknown, revision: number): unknown {
    if (!freezable(value, 0)) {
      this.#entries.delete(key)
      return value
    }
    deepFreeze(value)
    this.#entries.delete(key)
    this.#entries.set(key, { value, revision, used: false })
    // Each second chance clears a bit, so this ends within one lap.
    while (this.#entries.size > this.limit) {
      const [k, oldest] = this.#entries.entries().next().value as [unknown, CachedValue]
      this.#entries.delete(k)
      if (oldest.used && k !== key) {
        oldest.used = false
        this.#entries.set(k, oldest)
      }
    }
    return value
  }

  drop(key: unknown): void {
    this.#entries.delete(key)
  }

  clear(): void {
    this.#entries.clear()
  }
}

// Deeper trees are not cached (each get then decodes): freezing them would
// recurse as deep as the tree.
const MAX_DEPTH = 64

/** Whether deepFreeze makes `v` immutable: primitives, and trees of plain objects and arrays of them. */
function freezable(v: unknown, depth: number): boolean {
  if (typeof v !== 'object' || v === null) return true
  if (depth > MAX_DEPTH) return false
  if (Array.isArray(v)) {
    if (Object.getPrototypeOf(v) !== Array.prototype) return false
    for (let i = 0; i < v.length; i++) if (!freezable(v[i], depth + 1)) return false
    return true
  }
  const proto: unknown = Object.getPrototypeOf(v)
  if (proto !== Object.prototype && proto !== null) return false
  for (const k of Object.keys(v)) if (!freezable((v as Record<string, unknown>)[k], depth + 1)) return false
  return true
}

function deepFreeze(v: unknown): void {
  if (typeof v !== 'object' || v === null) return
  if (Array.isArray(v)) for (let i = 0; i < v.length; i++) deepFreeze(v[i])
  else for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k])
  Object.freeze(v)
}
