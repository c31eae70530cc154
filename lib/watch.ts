// map.watch(): an async iterator over a map's change log
// (threadmap/watch.hpp has the protocol, native/addon/watch_wrap.hpp the
// functions). Events are read in pages; when none is waiting the native side
// arms a threadsafe function that calls back on this thread's event loop.

import { addon, type NativeMap, type Wire } from './native'

/** The event types, in the core's order (threadmap::event_kind). */
export const WATCH_EVENT_TYPES = ['set', 'delete', 'clear', 'evict', 'expire'] as const
export type WatchEventType = (typeof WATCH_EVENT_TYPES)[number]

/** One change: `value` only for 'set'; no `key` for 'clear'. */
export interface WatchEvent<K, V> {
  readonly type: WatchEventType
  readonly key: K | undefined
  readonly value?: V
  readonly revision: number
}

export interface WatchOptions<K> {
  /** Only this key's events (and clear). */
  key?: K
  /** Only these keys' events (and clear). */
  keys?: readonly K[]
  /** Only keys that start with this (maps with 'string' or 'bytes' keys). */
  prefix?: string | Uint8Array
  /**
   * Start with the events of this revision and later, replayed from the
   * map's event buffer; a WatchCompactedError when the buffer no longer
   * holds them. Default: from now.
   */
  fromRevision?: number
  /** The map's event buffer in bytes while this watch is open (default 8 MiB). */
  bufferBytes?: number
  /** Keep the event loop alive while the watch is open (default false; see ref()). */
  ref?: boolean
}

const WATCH_OPTION_NAMES = ['key', 'keys', 'prefix', 'fromRevision', 'bufferBytes', 'ref']

/**
 * The watch fell behind the map's bounded event buffer, or asked for a
 * revision it no longer holds. `oldestRevision` is the oldest a new watch
 * can start from (fromRevision), as etcd's compacted error says.
 */
export class WatchCompactedError extends Error {
  readonly code = 'ERR_THREADMAP_COMPACTED'
  readonly oldestRevision: number
  constructor(oldestRevision: number) {
    super(
      `threadmap: watch: the events asked for are no longer buffered; the oldest revision available is ${oldestRevision}`,
    )
    this.name = 'WatchCompactedError'
    this.oldestRevision = oldestRevision
  }
}

interface Waiter<T> {
  resolve(r: IteratorResult<T, undefined>): void
  reject(e: unknown): void
}

const PAGE = 256

/** What watch() returns: an async iterator of change events; return() or close() ends it. */
export class Watcher<K, V> implements AsyncIterableIterator<WatchEvent<K, V>, undefined> {
  readonly #id: number
  readonly #decode: (wire: Wire) => V
  readonly #buffer: WatchEvent<K, V>[] = []
  readonly #waiting: Waiter<WatchEvent<K, V>>[] = []
  #done = false
  #deferred = false
  #error: unknown = undefined
  /** The map's revision when the watch opened. */
  readonly startRevision: number

  /** @internal */
  constructor(native: NativeMap, decode: (wire: Wire) => V, options: WatchOptions<K> | undefined) {
    const [mode, filter, from, bytes, ref] = watchArguments(options)
    this.#decode = decode
    const [id, rev] = addon.watchOpen(native, mode, filter, from, bytes, () => this.#pump())
    if (id < 0) throw new WatchCompactedError(rev)
    this.#id = id
    this.startRevision = rev
    if (ref) addon.watchRef(id, true)
  }

  next(): Promise<IteratorResult<WatchEvent<K, V>, undefined>> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject })
      this.#pump()
    })
  }

  /** Ends the watch and releases its place in the map's log. */
  return(): Promise<IteratorResult<WatchEvent<K, V>, undefined>> {
    this.close()
    return Promise.resolve({ value: undefined, done: true })
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  /** Keep the event loop (the process, or the worker) alive while this watch is open. */
  ref(): this {
    if (!this.#done) addon.watchRef(this.#id, true)
    return this
  }

  /** Let the process or worker exit while this watch is open (the default). */
  unref(): this {
    if (!this.#done) addon.watchRef(this.#id, false)
    return this
  }

  close(): void {
    if (this.#done) return
    this.#done = true
    this.#buffer.length = 0
    addon.watchClose(this.#id)
    this.#pump()
  }

  [Symbol.dispose](): void {
    this.close()
  }

  // Answers waiting next() calls from the buffer, reading pages as needed;
  // returns when the native side has nothing (it then calls back).
  #pump(): void {
    while (this.#waiting.length > 0) {
      const w = this.#waiting[0] as Waiter<WatchEvent<K, V>>
      const e = this.#buffer.shift()
      if (e !== undefined) {
        this.#waiting.shift()
        w.resolve({ value: e, done: false })
        continue
      }
      if (this.#error !== undefined) {
        this.#waiting.shift()
        const err = this.#error
        this.#error = undefined
        w.reject(err)
        continue
      }
      if (this.#done) {
        this.#waiting.shift()
        w.resolve({ value: undefined, done: true })
        continue
      }
      if (this.#deferred) return
      try {
        const n = this.#read()
        if (n === 0) return
        if (n < PAGE) {
          // A short page: wait one turn of the event loop before reading
          // again, so that writes meanwhile find this watch unarmed and
          // append without waking it (each wake is a system call in the
          // writer's thread); they arrive as one page.
          this.#deferred = true
          setImmediate(() => {
            this.#deferred = false
            this.#pump()
          })
        }
      } catch (err) {
        this.#error = err
      }
    }
  }

  // One page into the buffer: how many events; 0 when nothing was waiting
  // (the native side then calls back), PAGE when the watch ended.
  #read(): number {
    const r = addon.watchRead(this.#id, PAGE)
    if (r === null) {
      this.close()
      return PAGE
    }
    if (typeof r === 'number') {
      this.#error = new WatchCompactedError(r) // before close(), whose pump delivers it
      this.close()
      return PAGE
    }
    for (let i = 0; i < r.length; i += 4) {
      const type = WATCH_EVENT_TYPES[r[i] as number] as WatchEventType
      const key = r[i + 1] as K | undefined
      const revision = r[i + 3] as number
      this.#buffer.push(
        type === 'set' ? { type, key, value: this.#decode(r[i + 2] as Wire), revision } : { type, key, revision },
      )
    }
    return r.length / 4
  }
}

function watchArguments<K>(
  options: WatchOptions<K> | undefined,
): [mode: number, filter: unknown, from: number | undefined, bytes: number | undefined, ref: boolean] {
  if (options === undefined) return [0, undefined, undefined, undefined, false]
  if (typeof options !== 'object' || options === null) throw new TypeError('threadmap: watch options must be an object')
  for (const name of Object.keys(options)) {
    if (!WATCH_OPTION_NAMES.includes(name)) {
      throw new TypeError(`threadmap: watch: unknown option '${name}' (the options are ${WATCH_OPTION_NAMES.join(', ')})`)
    }
  }
  const { key, keys, prefix, fromRevision, bufferBytes, ref } = options
  const filters = ['key', 'keys', 'prefix'].filter((n) => (options as Record<string, unknown>)[n] !== undefined)
  if (filters.length > 1) throw new TypeError(`threadmap: watch: give one of key, keys and prefix, not ${filters.join(' and ')}`)
  if (fromRevision !== undefined) {
    if (typeof fromRevision !== 'number') throw new TypeError('threadmap: watch: fromRevision must be a number')
    if (!Number.isSafeInteger(fromRevision) || fromRevision < 1) {
      throw new RangeError('threadmap: watch: fromRevision must be an integer from 1 to 2^53 - 1')
    }
  }
  if (bufferBytes !== undefined && typeof bufferBytes !== 'number') {
    throw new TypeError('threadmap: watch: bufferBytes must be a number')
  }
  if (ref !== undefined && typeof ref !== 'boolean') throw new TypeError('threadmap: watch: ref must be a boolean')
  let mode = 0
  let filter: unknown
  if (key !== undefined) {
    mode = 1
    filter = [key]
  } else if (keys !== undefined) {
    if (!Array.isArray(keys)) throw new TypeError('threadmap: watch: keys must be an array')
    mode = 1
    filter = keys
  } else if (prefix !== undefined) {
    if (typeof prefix !== 'string' && !(prefix instanceof Uint8Array)) {
      throw new TypeError('threadmap: watch: prefix must be a string or a Uint8Array')
    }
    mode = 2
    filter = prefix
  }
  return [mode, filter, fromRevision, bufferBytes, ref === true]
}
