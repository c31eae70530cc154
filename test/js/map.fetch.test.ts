// fetch(key, loader): one loader per missing key across the main thread and
// workers, errors to every waiter, timeouts, a loading worker terminated
// mid-load, close() mid-load, bad input. Waits are bounded by the loads'
// timeouts (and vitest's), never by sleeps that guess at timing.
import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { exited, message, startWorker, STRATEGIES } from './helpers'

type Result = { key: string; value?: unknown; error?: { message: string; name: string; code?: unknown; ctor: string } }

function stringMap(strategy: (typeof STRATEGIES)[number] = 'striped'): ThreadMap<string, unknown> {
  return new ThreadMap<string, unknown>(null, { keys: 'string', values: 'any', strategy })
}

/** Resolves once `cond()` holds, polling on the event loop (bounded by the test's timeout). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 2))
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

describe.each(STRATEGIES)('fetch in one thread (%s)', (strategy) => {
  test('concurrent fetches of a missing key run one loader; all get its value, stored with set', async () => {
    const map = stringMap(strategy)
    let runs = 0
    const gate = deferred<string>()
    const loader = (key: string): Promise<string> => {
      runs++
      expect(key).toBe('k')
      return gate.promise
    }
    const fetches = Array.from({ length: 10 }, () => map.fetch('k', loader))
    expect(runs).toBe(1)
    expect(map.has('k')).toBe(false)
    gate.resolve('v')
    expect(await Promise.all(fetches)).toEqual(Array(10).fill('v'))
    expect(runs).toBe(1)
    expect(map.get('k')).toBe('v')
    // Present: resolves with the value, no loader runs.
    expect(await map.fetch('k', () => { throw new Error('not called') })).toBe('v')
    const { loads } = map.stats()
    expect(loads.successes).toBe(1)
    expect(loads.failures).toBe(0)
    expect(loads.waits).toBe(9)
    expect(loads.time).toBeGreaterThanOrEqual(0)
    map.close()
  })

  test('a loader error reaches the caller and every waiter; nothing is stored; the next fetch loads again', async () => {
    const map = stringMap(strategy)
    const boom = Object.assign(new RangeError('boom'), { code: 'E_BOOM' })
    const gate = deferred<string>()
    const first = map.fetch('k', () => gate.promise)
    const others = Array.from({ length: 3 }, () => map.fetch('k', () => 'never'))
    gate.reject(boom)
    await expect(first).rejects.toBe(boom) // the loading thread gets its own error object
    for (const p of others) {
      const err = await p.then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(RangeError)
      expect(err).toMatchObject({ message: 'boom', code: 'E_BOOM' })
    }
    expect(map.has('k')).toBe(false)
    expect(map.stats().loads.failures).toBe(1)
    expect(await map.fetch('k', () => 'again')).toBe('again')
    map.close()
  })

  test('a loader returning undefined stores nothing; its waiters get undefined', async () => {
    const map = stringMap(strategy)
    const fetches = [map.fetch('k', async () => undefined), map.fetch('k', () => 'not run')]
    expect(await Promise.all(fetches)).toEqual([undefined, undefined])
    expect(map.has('k')).toBe(false)
    expect(map.stats().loads.successes).toBe(1)
    map.close()
  })
})

describe('fetch', () => {
  test('fetchMethod is the default loader; fetch(key, options) passes context; a sync throw is a rejection', async () => {
    const seen: unknown[] = []
    const map = ThreadMap.create({
      keys: 'string',
      values: 'number',
      fetchMethod(key, stale, { context, signal }) {
        seen.push([key, stale, context, signal instanceof AbortSignal])
        return key.length
      },
    })
    expect(await map.fetch('abc')).toBe(3)
    expect(await map.fetch('abcd', { context: 'ctx' })).toBe(4)
    expect(seen).toEqual([
      ['abc', undefined, undefined, true],
      ['abcd', undefined, 'ctx', true],
    ])
    await expect(map.fetch('x', () => { throw new TypeError('sync') })).rejects.toThrow('sync')
    // A value of the wrong type is the load's error, for every waiter.
    const bad = map.fetch('y', async () => 'nope' as unknown as number)
    const waiter = map.fetch('y', () => 1)
    await expect(bad).rejects.toBeInstanceOf(TypeError)
    await expect(waiter).rejects.toBeInstanceOf(TypeError)
    expect(map.has('y')).toBe(false)
    map.close()
  })

  test('a loader that never settles times out: the caller and its waiters reject, the signal aborts, the next fetch loads', async () => {
    const map = stringMap()
    let signal: AbortSignal | undefined
    const hung = map.fetch('k', (_k, _s, o) => {
      signal = o.signal
      return new Promise<string>(() => {})
    }, { timeout: 100 })
    const waiter = map.fetch('k', () => 'not run', { timeout: 5_000 })
    let settled = false
    hung.then(() => { settled = true }, () => { settled = true })
    // Not early: a 50 ms timer set after the fetch's 100 ms one runs before
    // it whatever the machine's load (Node runs due timer lists in order of
    // expiry, and this continuation before the next timer's callback). A
    // wall-clock bound is not used: setTimeout counts from the loop's cached
    // time, which can be milliseconds older than any performance.now() here.
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(settled).toBe(false)
    expect(signal?.aborted).toBe(false)
    await expect(hung).rejects.toMatchObject({ code: 'THREADMAP_FETCH_TIMEOUT' })
    await expect(waiter).rejects.toMatchObject({ code: 'THREADMAP_FETCH_TIMEOUT' })
    expect(signal?.aborted).toBe(true)
    expect(map.stats().loads.timeouts).toBe(1)
    expect(await map.fetch('k', () => 'fresh')).toBe('fresh')
    map.close()
  })

  test("a waiter's own timeout ends its wait alone", async () => {
    const map = stringMap()
    const gate = deferred<string>()
    const owner = map.fetch('k', () => gate.promise)
    await expect(map.fetch('k', () => 'x', { timeout: 20 })).rejects.toMatchObject({ code: 'THREADMAP_FETCH_TIMEOUT' })
    gate.resolve('v')
    expect(await owner).toBe('v')
    map.close()
  })

  test('close() mid-load settles the loader and every waiter with a clear error', async () => {
    const map = stringMap()
    let signal: AbortSignal | undefined
    const owner = map.fetch('k', (_k, _s, o) => {
      signal = o.signal
      return new Promise<string>(() => {})
    })
    const waiters = [map.fetch('k', () => 'x'), map.fetch('k', () => 'y')]
    map.close()
    for (const p of [owner, ...waiters]) await expect(p).rejects.toMatchObject({ code: 'THREADMAP_CLOSED' })
    expect(signal?.aborted).toBe(true)
    expect(() => map.fetch('k', () => 'z')).toThrow(/closed/)
  })

  test('bad input is a TypeError or RangeError that changes nothing', () => {
    const map = stringMap()
    let runs = 0
    const loader = (): string => {
      runs++
      return 'v'
    }
    expect(() => map.fetch('k')).toThrow(TypeError)
    expect(() => map.fetch('k', 5 as never)).toThrow(TypeError)
    expect(() => map.fetch('k', 'f' as never)).toThrow(TypeError)
    expect(() => map.fetch('k', loader, { timeout: '5' as never })).toThrow(TypeError)
    expect(() => map.fetch('k', loader, { bogus: 1 } as never)).toThrow(TypeError)
    expect(() => map.fetch('k', loader, 7 as never)).toThrow(TypeError)
    for (const timeout of [0, -1, NaN, Infinity, 2 ** 31]) {
      expect(() => map.fetch('k', loader, { timeout })).toThrow(RangeError)
    }
    expect(() => map.fetch(5 as never, loader)).toThrow(TypeError)
    expect(() => new ThreadMap(null, { fetchMethod: 'x' as never })).toThrow(TypeError)
    expect(runs).toBe(0)
    expect(map.size).toBe(0)
    expect(map.stats().loads).toEqual({ successes: 0, failures: 0, timeouts: 0, abandoned: 0, waits: 0, time: 0 })
    map.close()
  })
})

describe('fetch across threads', () => {
  test('2 workers and the main thread fetch the same keys: one loader run per key, everyone gets every value', async () => {
    const map = stringMap()
    const keys = Array.from({ length: 8 }, (_, i) => `key${i}`)
    // Every loader, in whichever thread, finishes only once all three threads
    // have asked for every key (8 claims, 16 waits): each key's claim is
    // then certainly shared, however the threads were scheduled.
    const untilWaits = 2 * keys.length
    const loader = (key: string): Promise<string> => {
      map.add(`runs:${key}`, 1)
      return new Promise((resolve) => {
        const done = (): void => {
          if (map.stats().loads.waits < untilWaits) setTimeout(done, 2)
          else resolve(`value:${key}`)
        }
        setTimeout(done, 20)
      })
    }
    const workers = [0, 1].map(() =>
      startWorker('fetch.mjs', { handle: map.handle(), keys, mode: 'slow', loadMs: 20, untilWaits, barrier: true }),
    )
    const exits = workers.map(exited)
    const results = workers.map((w) => message<{ results: Result[] }>(w, 'result'))
    await Promise.all(workers.map((w) => message(w, 'ready')))
    for (const w of workers) w.postMessage('go')
    const mine = await Promise.all(keys.map((k) => map.fetch(k, loader)))
    expect(mine).toEqual(keys.map((k) => `value:${k}`))
    for (const r of await Promise.all(results)) {
      expect(r.results).toEqual(keys.map((key) => ({ key, value: `value:${key}` })))
    }
    for (const e of exits) expect(await e).toBe(0)
    for (const k of keys) expect(map.get(`runs:${k}`)).toBe(1)
    const { loads } = map.stats()
    expect(loads.successes).toBe(keys.length)
    expect(loads.waits).toBe(untilWaits)
    map.close()
  })

  test("a loader error crosses threads: class, message, name and code", async () => {
    const map = stringMap()
    const gate = deferred<string>()
    const mine = map.fetch('k', () => gate.promise)
    const w = startWorker('fetch.mjs', { handle: map.handle(), keys: ['k'], mode: 'slow' })
    const exit = exited(w)
    const result = message<{ results: Result[] }>(w, 'result')
    await until(() => map.stats().loads.waits === 1)
    class LoadError extends TypeError {
      code = 'E_LOAD'
      override name = 'LoadError'
    }
    gate.reject(new LoadError('no k'))
    await expect(mine).rejects.toBeInstanceOf(LoadError)
    const r = await result
    expect(r.results[0]!.error).toEqual({ message: 'no k', name: 'LoadError', code: 'E_LOAD', ctor: 'TypeError' })
    expect(map.get('runs:k')).toBeUndefined() // the worker's loader never ran
    expect(await exit).toBe(0)
    map.close()
  })

  for (const mode of ['hang', 'spin'] as const) {
    test(`worker.terminate() of the loading worker (${mode}) mid-load: a waiter takes over`, async () => {
      const map = stringMap()
      const w = startWorker('fetch.mjs', { handle: map.handle(), keys: ['k'], mode, timeout: 60_000 })
      const exit = exited(w)
      await message(w, 'loading')
      // The worker owns the load; these wait for it (bounded by their timeout, far below vitest's).
      const fetches = [0, 1].map(() =>
        map.fetch('k', (key) => {
          map.add(`runs:${key}`, 1)
          return 'taken over'
        }, { timeout: 10_000 }),
      )
      await until(() => map.stats().loads.waits === 2)
      await w.terminate()
      expect(await exit).toBe(1)
      expect(await Promise.all(fetches)).toEqual(['taken over', 'taken over'])
      expect(map.get('runs:k')).toBe(2) // the worker's run and one waiter's
      expect(map.stats().loads).toMatchObject({ abandoned: 1, successes: 1 })
      map.close()
    })
  }

  test('a waiting worker terminated mid-wait: the load ends for the others, the map stays usable', async () => {
    const map = stringMap()
    const gate = deferred<string>()
    const owner = map.fetch('k', () => gate.promise)
    const w = startWorker('fetch.mjs', { handle: map.handle(), keys: ['k'], mode: 'slow' })
    const exit = exited(w)
    await until(() => map.stats().loads.waits === 1)
    await w.terminate()
    expect(await exit).toBe(1)
    const waiter = map.fetch('k', () => 'not run')
    gate.resolve('v')
    expect(await Promise.all([owner, waiter])).toEqual(['v', 'v'])
    expect(map.stats().loads).toMatchObject({ successes: 1, abandoned: 0, waits: 2 })
    map.close()
  })

  test('a loading worker whose event loop is stuck: waiters time out at its deadline, the next fetch takes the key over', async () => {
    const map = stringMap()
    const w = startWorker('fetch.mjs', { handle: map.handle(), keys: ['k'], mode: 'spin', timeout: 150 })
    await message(w, 'loading')
    await expect(map.fetch('k', () => 'x', { timeout: 10_000 })).rejects.toMatchObject({
      code: 'THREADMAP_FETCH_TIMEOUT',
    })
    expect(await map.fetch('k', () => 'mine')).toBe('mine')
    expect(map.stats().loads.timeouts).toBe(1)
    await w.terminate()
    map.close()
  })

  test('close() mid-load settles a waiting worker, which then exits on its own', async () => {
    const map = stringMap()
    const owner = map.fetch('k', () => new Promise<string>(() => {}))
    const w = startWorker('fetch.mjs', { handle: map.handle(), keys: ['k'], mode: 'slow' })
    const result = message<{ results: Result[] }>(w, 'result')
    const exit = exited(w)
    await until(() => map.stats().loads.waits === 1)
    map.close()
    await expect(owner).rejects.toMatchObject({ code: 'THREADMAP_CLOSED' })
    expect((await result).results[0]!.error).toMatchObject({ code: 'THREADMAP_CLOSED' })
    // Nothing keeps the worker alive: it exits by itself.
    expect(await exit).toBe(0)
  })
})
