// map.snapshot(): a read-only copy of the map at one revision, refreshed
// incrementally (threadmap/snapshot.hpp has the protocol and its proof).

import { addon, type NativeMap, type Wire } from './native'

const { ITER_KEYS, ITER_VALUES, ITER_ENTRIES } = addon.constants

export interface SnapshotOptions {
  /**
   * The map's event buffer in bytes while the snapshot is open (default
   * 8 MiB): a refresh that finds more changes than it holds copies the whole
   * map again (stats().fullCopies).
   */
  bufferBytes?: number
  /**
   * How the entries are copied. `'lazy'` (the default): on `mutex`,
   * `rwlock` and `striped` nothing is copied when the snapshot is taken;
   * each stripe is copied by the first write that changes it (or the first
   * read of it through the snapshot). `'eager'`: every entry is copied
   * before snapshot() returns, as the other strategies always do.
   */
  copy?: 'lazy' | 'eager'
}

export interface SnapshotStats {
  /** refresh() calls. */
  readonly refreshes: number
  /** Copies of the whole map: the first, and refreshes that fell behind the buffer. */
  readonly fullCopies: number
  /** Change events applied to the copy by refreshes. */
  readonly eventsApplied: number
  /** Copies redone because writers outran the buffer during the copy (which then doubles). */
  readonly retries: number
  readonly revision: number
  readonly size: number
  /** Whether the copy is lazy (copy-on-write): see SnapshotOptions.copy. */
  readonly lazy: boolean
  /** Bytes the copy holds now, counted entry by entry (a lazy one grows as stripes are copied). */
  readonly bytes: number
}

const MISSING: unique symbol = Symbol('threadmap.snapshot.missing')
const CHUNK = 1024

/** What snapshot() returns; close() it when done (the map is watched while it is open). */
export class Snapshot<K, V> implements Iterable<[K, V]> {
  readonly #id: number
  readonly #decode: (wire: Wire) => V
  #closed = false

  /** @internal */
  constructor(native: NativeMap, decode: (wire: Wire) => V, options: SnapshotOptions | undefined) {
    if (options !== undefined) {
      if (typeof options !== 'object' || options === null) throw new TypeError('threadmap: snapshot options must be an object')
      for (const name of Object.keys(options)) {
        if (name !== 'bufferBytes' && name !== 'copy') {
          throw new TypeError(`threadmap: snapshot: unknown option '${name}' (the options are bufferBytes and copy)`)
        }
      }
      if (options.bufferBytes !== undefined && typeof options.bufferBytes !== 'number') {
        throw new TypeError('threadmap: snapshot: bufferBytes must be a number')
      }
      if (options.copy !== undefined && options.copy !== 'lazy' && options.copy !== 'eager') {
        throw new TypeError(`threadmap: snapshot: copy must be 'lazy' or 'eager'`)
      }
    }
    this.#decode = decode
    this.#id = addon.snapshotOpen(native, options?.bufferBytes, options?.copy === undefined ? undefined : options.copy === 'eager')
  }

  /** The revision the snapshot shows: every write up to it, none after. */
  get revision(): number {
    return addon.snapshotRevision(this.#id)
  }

  get size(): number {
    return addon.snapshotSize(this.#id)
  }

  get(key: K): V | undefined {
    const w = addon.snapshotGet(this.#id, key as Wire, MISSING)
    return w === MISSING ? undefined : this.#decode(w as Wire)
  }

  has(key: K): boolean {
    return addon.snapshotHas(this.#id, key as Wire)
  }

  /**
   * Brings the snapshot to the map's current revision, applying only the
   * changes since its own. Throws when the map was closed.
   */
  refresh(): this {
    if (!addon.snapshotRefresh(this.#id)) throw new Error('threadmap: snapshot: the map is closed')
    return this
  }

  stats(): SnapshotStats {
    return addon.snapshotStats(this.#id)
  }

  entries(): IterableIterator<[K, V]> {
    return this.#iterate<[K, V]>(ITER_ENTRIES)
  }

  keys(): IterableIterator<K> {
    return this.#iterate<K>(ITER_KEYS)
  }

  values(): IterableIterator<V> {
    return this.#iterate<V>(ITER_VALUES)
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries()
  }

  forEach(fn: (value: V, key: K, snapshot: this) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this)
  }

  /** Frees the copy and stops watching the map. Calling it again does nothing. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    addon.snapshotClose(this.#id)
  }

  [Symbol.dispose](): void {
    this.close()
  }

  get closed(): boolean {
    return this.#closed
  }

  *#iterate<T>(mode: number): Generator<T, undefined, unknown> {
    let position = 0
    let generation = -1
    while (position >= 0) {
      const page = addon.snapshotChunk(this.#id, mode, position, CHUNK)
      const next = page[0] as number
      const gen = page[1] as number
      if (generation >= 0 && gen !== generation) {
        throw new Error('threadmap: snapshot: refreshed during the iteration (start a new one)')
      }
      generation = gen
      if (mode === ITER_ENTRIES) {
        for (let i = 2; i < page.length; i += 2) yield [page[i], this.#decode(page[i + 1] as Wire)] as T
      } else if (mode === ITER_VALUES) {
        for (let i = 2; i < page.length; i++) yield this.#decode(page[i] as Wire) as unknown as T
      } else {
        for (let i = 2; i < page.length; i++) yield page[i] as T
      }
      position = next
    }
    return undefined
  }
}
