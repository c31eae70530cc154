// fetch(key, loader): one loader per missing key across every thread that
// shares the map. The claims live in the map's native load table
// (native/core/include/threadmap/loads.hpp, the protocol); the addon wakes a
// waiting thread through its event loop (native/addon/loads_wrap.hpp). This
// file is what a fetch does with a claim: the owner runs the loader, stores
// its value with the map's own set and then settles the claim; a waiter
// waits for the settle, bounded by a timer.

import * as v8 from 'node:v8'

import { addon, type NativeMap, type Wire } from './native'

/**
 * The loader (lru-cache's fetchMethod signature): the key, the stale value
 * (always undefined: threadmap keeps no stale entries), and the fetch's
 * options: `signal` aborts when the load times out or the map is closed,
 * `context` is the fetch's `context` option.
 */
export type FetchMethod<K, V> = (
  key: K,
  staleValue: V | undefined,
  options: FetchMethodOptions,
) => V | undefined | PromiseLike<V | undefined>

export interface FetchMethodOptions {
  /** Aborts (with the fetch's error) when the load times out or the map is closed. */
  readonly signal: AbortSignal
  /** The fetch's `context` option. */
  readonly context: unknown
  /**
   * lru-cache's `options`: what the loaded value is stored with. `ttl`
   * starts as the fetch's `ttl` option (undefined: the map's ttl); a loader
   * that knows how long its value stays good sets it (ms, 0: never expires;
   * a map made with options.ttl only). A bad one fails the load, storing
   * nothing.
   */
  readonly options: { ttl?: number }
}

export interface FetchOptions {
  /**
   * Milliseconds this fetch may take: as the loader, how long its load may
   * run; as a waiter, how long it waits. Default FETCH_TIMEOUT (30 s); at
   * most 2^31 - 1 (setTimeout's bound).
   */
  timeout?: number
  /** Passed to the loader as `options.context` (lru-cache's name). */
  context?: unknown
  /**
   * Milliseconds the loaded entry lives (0: never expires) instead of the
   * map's ttl, as set(key, value, { ttl }); a map made with options.ttl only.
   */
  ttl?: number
}

/** The default load timeout, in milliseconds (see the README's fetch section). */
export const FETCH_TIMEOUT = 30_000
const MAX_TIMEOUT = 2 ** 31 - 1
// How long past the claim's deadline a waiter waits for the owner's own
// timeout to arrive, before it gives up alone (an owner whose event loop is
// stuck cannot send it).
const DEADLINE_GRACE = 50

/** What fetch needs of its ThreadMap (the class keeps its fields private). */
export interface FetchTarget<K, V> {
  readonly native: NativeMap
  readonly id: number
  /** [true, value] when the key is present, else [false]. */
  peek(key: K): [true, V] | [false]
  /** The map's own set (with its own ttl when `ttl` is not undefined). */
  store(key: K, value: V, ttl: number | undefined): void
  /** Throws what store would for this ttl (TypeError, RangeError); `call` names the API. */
  checkTTL(ttl: unknown, call: string): void
  encode(value: V): Wire
  decode(wire: Wire): V
}

const OUT = addon.loadOutcomes

const FETCH_OPTIONS = ['timeout', 'context', 'ttl']

/** fetch's arguments, checked. */
export interface FetchArguments<K, V> {
  loader: FetchMethod<K, V>
  timeout: number
  context: unknown
  ttl: number | undefined
}

/** Checks fetch's arguments (a TypeError or RangeError, nothing changed). */
export function fetchArguments<K, V>(
  loaderOrOptions: unknown,
  options: unknown,
  fetchMethod: FetchMethod<K, V> | undefined,
  checkTTL: (ttl: unknown, call: string) => void,
): FetchArguments<K, V> {
  let loader: unknown = loaderOrOptions
  let opts: unknown = options
  if (options === undefined && typeof loaderOrOptions === 'object' && loaderOrOptions !== null) {
    loader = undefined
    opts = loaderOrOptions
  }
  if (loader === undefined) loader = fetchMethod
  if (typeof loader !== 'function') {
    throw new TypeError(
      loader === undefined
        ? 'threadmap: fetch(key, loader) needs a loader function (or the fetchMethod option)'
        : `threadmap: fetch(key, loader): the loader must be a function, not ${typeof loader}`,
    )
  }
  let timeout = FETCH_TIMEOUT
  let context: unknown
  let ttl: number | undefined
  if (opts !== undefined) {
    if (typeof opts !== 'object' || opts === null) throw new TypeError('threadmap: fetch options must be an object')
    for (const name of Object.keys(opts)) {
      if (!FETCH_OPTIONS.includes(name)) {
        throw new TypeError(`threadmap: unknown fetch option '${name}' (the options are ${FETCH_OPTIONS.join(', ')})`)
      }
    }
    const o = opts as FetchOptions
    if (o.timeout !== undefined) {
      if (typeof o.timeout !== 'number') throw new TypeError('threadmap: fetch options.timeout must be a number')
      if (!(o.timeout > 0 && o.timeout <= MAX_TIMEOUT)) {
        throw new RangeError(`threadmap: fetch options.timeout must be > 0 and <= ${MAX_TIMEOUT} ms, not ${o.timeout}`)
      }
      timeout = o.timeout
    }
    context = o.context
    if (o.ttl !== undefined) {
      checkTTL(o.ttl, 'fetch(key, loader, { ttl })')
      ttl = o.ttl
    }
  }
  return { loader: loader as FetchMethod<K, V>, timeout, context, ttl }
}

function timeoutError(ms: number): Error {
  return Object.assign(new Error(`threadmap: fetch: the load did not settle within ${ms} ms`), {
    code: 'THREADMAP_FETCH_TIMEOUT',
  })
}

function closedError(id: number): Error {
  return Object.assign(new Error(`threadmap: map ${id} was closed while fetch waited for a load`), {
    code: 'THREADMAP_CLOSED',
  })
}

interface ErrorExtras {
  name?: string
  code?: string | number
  /** The standard class it extends (v8.serialize keeps it only under the standard name). */
  base?: string
}

const STANDARD_ERRORS: Readonly<Record<string, { readonly prototype: Error }>> = {
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
  AggregateError,
}

function standardClass(err: Error): string | undefined {
  for (let p: unknown = Object.getPrototypeOf(err); p !== null && p !== Error.prototype; p = Object.getPrototypeOf(p)) {
    for (const [name, ctor] of Object.entries(STANDARD_ERRORS)) if (p === ctor.prototype) return name
  }
  return undefined
}

/**
 * An error as it crosses to other threads: v8.serialize (the structured
 * codec's) keeps message, stack and cause; the standard class it is or
 * extends (TypeError, RangeError, ...; a subclass arrives as that class),
 * `name` and a string or number `code` travel beside it. A thrown value v8.serialize cannot take arrives as an Error
 * with its message (or its String()).
 */
export function encodeError(err: unknown): Uint8Array {
  const extra: ErrorExtras = {}
  if (err instanceof Error) {
    if (typeof err.name === 'string') extra.name = err.name
    const base = standardClass(err)
    if (base !== undefined) extra.base = base
    const code: unknown = (err as { code?: unknown }).code
    if (typeof code === 'string' || typeof code === 'number') extra.code = code
  }
  try {
    return v8.serialize([err, extra])
  } catch {
    let message: string
    try {
      message = err instanceof Error ? err.message : String(err)
    } catch {
      message = 'a value that cannot be shown'
    }
    return v8.serialize([new Error(`threadmap: fetch: the loader failed with ${message}`), extra])
  }
}

export function decodeError(bytes: Uint8Array): unknown {
  const [err, extra] = v8.deserialize(bytes) as [unknown, ErrorExtras]
  if (err instanceof Error) {
    const base = extra.base === undefined ? undefined : STANDARD_ERRORS[extra.base]
    if (base !== undefined && !base.prototype.isPrototypeOf(err)) Object.setPrototypeOf(err, base.prototype)
    if (extra.name !== undefined && err.name !== extra.name) {
      Object.defineProperty(err, 'name', { value: extra.name, writable: true, configurable: true })
    }
    if (extra.code !== undefined) (err as { code?: unknown }).code = extra.code
  }
  return err
}

/** The miss path of map.fetch: claim the key, then load or wait. */
export function fetchMissing<K, V>(
  t: FetchTarget<K, V>,
  key: K,
  { loader, timeout, context, ttl }: FetchArguments<K, V>,
): Promise<V | undefined> {
  return new Promise<V | undefined>((resolve, reject) => {
    const attempt = (deadline: number): void => {
      const msLeft = deadline - performance.now()
      if (msLeft <= 0) {
        reject(timeoutError(timeout))
        return
      }
      let onEnd: (kind: number, payload: unknown) => void = () => {}
      const [role, id, claimLeft] = addon.loadClaim(t.native, key as Wire, msLeft, (kind, payload) => {
        onEnd(kind, payload)
      })
      if (role === 1) wait(id, Math.min(msLeft, claimLeft + DEADLINE_GRACE), deadline, (f) => (onEnd = f))
      else load(id, msLeft, (f) => (onEnd = f))
    }

    const retry = (deadline: number): void => {
      try {
        attempt(deadline)
      } catch (err) {
        reject(err)
      }
    }

    const wait = (waitId: number, ms: number, deadline: number, listen: (f: (k: number, p: unknown) => void) => void): void => {
      const timer = setTimeout(() => {
        if (addon.loadCancel(waitId)) reject(timeoutError(timeout))
      }, ms)
      listen((kind, payload) => {
        clearTimeout(timer)
        switch (kind) {
          case OUT.value:
            try {
              resolve(t.decode(payload as Wire))
            } catch (err) {
              reject(err)
            }
            return
          case OUT.none:
            resolve(undefined)
            return
          case OUT.error:
            reject(decodeError(payload as Uint8Array))
            return
          case OUT.released: // the owner found the value present: read it
            retry(deadline)
            return
          case OUT.abandoned: // the owner's thread went away: take over, with a whole timeout
            retry(performance.now() + timeout)
            return
          case OUT.timedOut:
            reject(timeoutError(timeout))
            return
          default:
            reject(closedError(t.id))
        }
      })
    }

    const load = (claimId: number, ms: number, listen: (f: (k: number, p: unknown) => void) => void): void => {
      // Stored by someone between the first look and the claim?
      let seen: [true, V] | [false]
      try {
        seen = t.peek(key)
      } catch (err) {
        // Closed meanwhile: end the claim, so this thread holds nothing of it.
        addon.loadSettle(claimId, OUT.error, encodeError(err))
        reject(err)
        return
      }
      if (seen[0]) {
        addon.loadSettle(claimId, OUT.released)
        resolve(seen[1])
        return
      }
      const controller = new AbortController()
      let done = false
      const finish = (err: unknown, settleKind: number): void => {
        done = true
        clearTimeout(timer)
        addon.loadSettle(claimId, settleKind)
        controller.abort(err)
        reject(err)
      }
      const timer = setTimeout(() => {
        if (!done) finish(timeoutError(timeout), OUT.timedOut)
      }, ms)
      // The owner's watch hears only close().
      listen(() => {
        if (!done) finish(closedError(t.id), OUT.timedOut)
      })
      const failed = (err: unknown): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        addon.loadSettle(claimId, OUT.error, encodeError(err))
        reject(err)
      }
      const loaded = (value: V | undefined): void => {
        if (done) return // timed out or closed: the late result is dropped
        if (value === undefined) {
          done = true
          clearTimeout(timer)
          addon.loadSettle(claimId, OUT.none)
          resolve(undefined)
          return
        }
        let wire: Wire
        try {
          const own = storeWith.ttl
          if (own !== undefined && own !== ttl) t.checkTTL(own, "fetch's loader: options.ttl")
          t.store(key, value, own)
          wire = t.encode(value)
        } catch (err) {
          failed(err)
          return
        }
        done = true
        clearTimeout(timer)
        addon.loadSettle(claimId, OUT.value, wire)
        resolve(value)
      }
      let result: V | undefined | PromiseLike<V | undefined>
      const storeWith: { ttl?: number } = { ttl }
      try {
        result = loader(key, undefined, { signal: controller.signal, context, options: storeWith })
      } catch (err) {
        failed(err)
        return
      }
      Promise.resolve(result).then(loaded, failed)
    }

    attempt(performance.now() + timeout)
  })
}
