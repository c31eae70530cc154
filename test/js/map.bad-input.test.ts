// Bad input: wrong types are TypeErrors, sizes past the limits and maxMemory
// are RangeErrors, forged or stale handles and closed maps are Errors; in
// every case nothing already stored changes and nothing crashes.
import { createRequire } from 'node:module'
import * as path from 'node:path'

import { describe, expect, test } from 'vitest'

import {
  liveMaps,
  MAX_KEY_BYTES,
  STRATEGIES,
  ThreadMap,
  type KeyTypeName,
  type ThreadMapHandle,
  type ThreadMapOptions,
  type ValueTypeName,
} from '../../lib/index'
import { collectUntil } from './helpers'

type AnyMap = ThreadMap<unknown, unknown>

function snapshot(m: AnyMap): string {
  const rows = [...m.entries()].map(([k, v]) => `${typeof k}:${String(k)}=${typeof v}:${String(v)}`)
  return `${m.size}|${rows.sort().join(',')}`
}

const circular: Record<string, unknown> = {}
circular.self = circular

const goodKey: Record<KeyTypeName, unknown> = {
  string: 'k',
  number: 1,
  bigint: 1n,
  bytes: new Uint8Array([1]),
  any: 'k',
}
const badKeys: Record<KeyTypeName, unknown[]> = {
  string: [1, 1n, null, undefined, {}, Symbol('s'), new Uint8Array([1])],
  number: ['1', 1n, null, undefined, {}, true],
  bigint: [1, '1', null, {}],
  bytes: ['abc', [1, 2], new Uint16Array([1]), new ArrayBuffer(2), null, 1],
  any: [{}, [], Symbol('s'), () => 1, new Uint8Array([1]), new Date(0)],
}
const goodValue: Record<ValueTypeName, unknown> = {
  string: 'v',
  number: 1,
  bigint: 1n,
  boolean: true,
  bytes: new Uint8Array([1]),
  json: { a: 1 },
  structured: new Map([[1, 2]]),
  any: 'v',
}
const badValues: Record<ValueTypeName, unknown[]> = {
  string: [1, null, undefined, {}, Symbol('s')],
  number: ['1', 1n, null, undefined, {}],
  bigint: [1, '1', undefined],
  boolean: [0, 'true', null, undefined],
  bytes: ['x', [1], new Int8Array(1), undefined],
  json: [undefined, () => 1, Symbol('s'), 1n, circular],
  structured: [() => 1, Symbol('s'), { f: () => 1 }],
  any: [Symbol('s'), () => 1, { f: () => 1 }],
}

describe.each(STRATEGIES)('bad input (%s)', (strategy) => {
  describe.each(Object.keys(badKeys) as KeyTypeName[])('keys %s', (keys) => {
    test('a key of the wrong type is a TypeError that changes nothing', () => {
      const m = new ThreadMap<unknown, unknown>(null, { keys, values: 'any', strategy })
      m.set(goodKey[keys], 'kept')
      const before = snapshot(m)
      for (const bad of badKeys[keys]) {
        expect(() => m.set(bad, 'x')).toThrow(TypeError)
        expect(() => m.get(bad)).toThrow(TypeError)
        expect(() => m.has(bad)).toThrow(TypeError)
        expect(() => m.delete(bad)).toThrow(TypeError)
        expect(() => m.getOrSet(bad, 'x')).toThrow(TypeError)
        expect(() => m.setIfAbsent(bad, 'x')).toThrow(TypeError)
        expect(() => m.compareAndSet(bad, undefined, 'x')).toThrow(TypeError)
        expect(() => m.swap(bad, 'x')).toThrow(TypeError)
        expect(() => m.take(bad)).toThrow(TypeError)
        expect(() => m.add(bad, 1)).toThrow(TypeError)
        expect(() => m.update(bad, () => 'x')).toThrow(TypeError)
      }
      expect(snapshot(m)).toBe(before)
    })

    test('the TypeError names the expected type', () => {
      const m = new ThreadMap<unknown, unknown>(null, { keys, strategy })
      expect(() => m.set(badKeys[keys][0], 1)).toThrow(new RegExp(`keys are '${keys}'`))
    })
  })

  describe.each(Object.keys(badValues) as ValueTypeName[])('values %s', (values) => {
    test('a value of the wrong type is a TypeError that changes nothing', () => {
      const m = new ThreadMap<unknown, unknown>(null, { keys: 'string', values, strategy })
      m.set('k', goodValue[values])
      const before = snapshot(m)
      for (const bad of badValues[values]) {
        expect(() => m.set('k', bad)).toThrow(TypeError)
        expect(() => m.set('new', bad)).toThrow(TypeError)
        expect(() => m.getOrSet('new', bad)).toThrow(TypeError)
        expect(() => m.setIfAbsent('new', bad)).toThrow(TypeError)
        expect(() => m.swap('k', bad)).toThrow(TypeError)
        if (bad !== undefined) {
          // undefined means "absent"/"delete" to compareAndSet
          expect(() => m.compareAndSet('k', goodValue[values], bad)).toThrow(TypeError)
          expect(() => m.compareAndSet('k', bad, goodValue[values])).toThrow(TypeError)
        }
        expect(() => m.update('k', () => bad)).toThrow(TypeError)
      }
      expect(snapshot(m)).toBe(before)
      expect(m.has('new')).toBe(false)
    })
  })

  test('keys past the size limit are RangeErrors; at the limit they work', () => {
    const m = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    m.set('x'.repeat(MAX_KEY_BYTES), 1)
    expect(m.get('x'.repeat(MAX_KEY_BYTES))).toBe(1)
    expect(() => m.set('y'.repeat(MAX_KEY_BYTES + 1), 2)).toThrow(RangeError)
    expect(() => m.set('é'.repeat(MAX_KEY_BYTES / 2 + 1), 2)).toThrow(RangeError) // 2 bytes each in UTF-8
    expect(() => m.get('y'.repeat(MAX_KEY_BYTES + 1))).toThrow(RangeError)
    expect(m.size).toBe(1)

    const b = new ThreadMap<Uint8Array, number>(null, { keys: 'bytes', values: 'number', strategy })
    expect(() => b.set(new Uint8Array(MAX_KEY_BYTES + 1), 1)).toThrow(RangeError)
    const a = new ThreadMap<unknown, number>(null, { keys: 'any', values: 'number', strategy })
    // 'any' spends one byte on the type tag.
    a.set('z'.repeat(MAX_KEY_BYTES - 1), 1)
    expect(() => a.set('z'.repeat(MAX_KEY_BYTES), 1)).toThrow(RangeError)
    expect(b.size + a.size).toBe(1)
  })

  test('values past the size limit are RangeErrors', () => {
    const m = new ThreadMap<string, Uint8Array>(null, { keys: 'string', values: 'bytes', strategy })
    m.set('k', new Uint8Array([1]))
    // Zero-filled pages that are never touched: cheap to allocate.
    const huge = new Uint8Array(256 * 1024 * 1024 + 1)
    expect(() => m.set('k', huge)).toThrow(RangeError)
    expect(() => m.set('other', huge)).toThrow(RangeError)
    expect(m.get('k')).toEqual(new Uint8Array([1]))
    expect(m.size).toBe(1)
  })

  test('maxMemory exceeded is a RangeError; stored data stays intact', () => {
    const m = new ThreadMap<string, string>(null, { keys: 'string', values: 'string', strategy, maxMemory: 512 * 1024 })
    const value = (i: number): string => `${i}:`.padEnd(200, 'v')
    let stored = 0
    let error: unknown = null
    for (; stored < 100_000; stored++) {
      try {
        m.set(`key${stored}`, value(stored))
      } catch (err) {
        error = err
        break
      }
    }
    expect(error).toBeInstanceOf(RangeError)
    expect(String(error)).toMatch(/maxMemory/)
    expect(stored).toBeGreaterThan(100)
    expect(m.has(`key${stored}`)).toBe(false)
    expect(m.size).toBe(stored)
    for (let i = 0; i < stored; i++) expect(m.get(`key${i}`)).toBe(value(i))
    // stats().bytes also counts the map's fixed header and stripe array, which
    // the core does not charge to maxMemory; that overhead is a few KiB.
    expect(m.stats().bytes).toBeLessThanOrEqual(512 * 1024 + 16 * 1024)
    // Growing an existing value past the limit fails the same way.
    expect(() => m.set('key0', 'x'.repeat(1024 * 1024))).toThrow(RangeError)
    expect(m.get('key0')).toBe(value(0))
    // The other atomic writes respect the limit too.
    expect(() => m.setIfAbsent('fresh', 'x'.repeat(1024 * 1024))).toThrow(RangeError)
    expect(() => m.swap('key1', 'x'.repeat(1024 * 1024))).toThrow(RangeError)
    expect(m.get('key1')).toBe(value(1))
    expect(m.size).toBe(stored)
  })

  test('at its maxMemory a map reads, deletes and clears; each write that needs room is a RangeError', () => {
    const m = new ThreadMap<string, string>(null, { keys: 'string', values: 'string', strategy, maxMemory: 256 * 1024 })
    const value = (i: number): string => `${i}:`.padEnd(200, 'v')
    let stored = 0
    for (; ; stored++) {
      try {
        m.set(`key${stored}`, value(stored))
      } catch (err) {
        expect(err).toBeInstanceOf(RangeError)
        break
      }
    }
    const big = 'x'.repeat(512 * 1024)
    const refused: (() => unknown)[] = [
      () => m.set('fresh', big),
      () => m.getOrSet('fresh', big),
      () => m.setIfAbsent('fresh', big),
      () => m.swap('key0', big),
      () => m.compareAndSet('key0', value(0), big),
      () => m.compareAndSet('fresh', undefined, big),
      () => m.update('key0', () => big),
      () => m.setMany([['fresh', big]]),
    ]
    for (const write of refused) {
      expect(write).toThrow(RangeError)
      expect(write).toThrow(/maxMemory/)
    }
    expect(m.size).toBe(stored)
    expect(m.has('fresh')).toBe(false)
    expect(m.get('key0')).toBe(value(0))
    // A map at its limit never refuses a read, a delete or an iteration.
    expect(m.getMany(['key1', 'nope'])).toEqual([value(1), undefined])
    expect(m.hasMany(['key1'])).toEqual([true])
    expect([...m.keys()].length).toBe(stored)
    expect(m.delete('key1')).toBe(true)
    expect(m.take('key2')).toBe(value(2))
    expect(m.deleteMany(['key3', 'key4'])).toEqual([true, true])
    expect(m.compareAndSet('key5', value(5), undefined)).toBe(true)
    expect(m.size).toBe(stored - 5)
    // Deleting makes room again; so does clear().
    const half = Math.floor(stored / 2)
    for (let i = 6; i < half; i++) m.delete(`key${i}`)
    let again = 0
    for (; again < stored; again++) {
      try {
        m.set(`again${again}`, value(again))
      } catch {
        break
      }
    }
    expect(again).toBeGreaterThan(0)
    m.clear()
    for (let i = 0; i < stored / 2; i++) m.set(`key${i}`, value(i))
    expect(m.size).toBe(Math.ceil(stored / 2))

    // add stores a value too (some strategies write a new node each time).
    const c = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy, maxMemory: 64 * 1024 })
    let counters = 0
    for (; ; counters++) {
      try {
        c.add(`c${counters}`, 1)
      } catch (err) {
        expect(err).toBeInstanceOf(RangeError)
        expect(String(err)).toMatch(/maxMemory/)
        break
      }
    }
    expect(c.size).toBe(counters)
    expect(c.has(`c${counters}`)).toBe(false)
    expect(c.get('c0')).toBe(1)
  })

  test('a capacity that cannot fit in maxMemory is a RangeError', () => {
    expect(() => new ThreadMap(null, { strategy, capacity: 1_000_000, maxMemory: 1024 })).toThrow(RangeError)
  })

  test('add: wrong value types, wrong deltas and overflow', () => {
    const s = new ThreadMap<string, string>(null, { keys: 'string', values: 'string', strategy })
    expect(() => s.add('k', 1)).toThrow(TypeError)
    expect(s.size).toBe(0)

    const n = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    expect(() => n.add('k', 1n)).toThrow(TypeError)
    expect(() => n.add('k', '1' as unknown as number)).toThrow(TypeError)
    expect(n.size).toBe(0)

    const b = new ThreadMap<string, bigint>(null, { keys: 'string', values: 'bigint', strategy })
    expect(() => b.add('k', 1)).toThrow(TypeError)
    b.set('max', 2n ** 63n - 1n)
    expect(() => b.add('max', 1n)).toThrow(RangeError)
    expect(b.get('max')).toBe(2n ** 63n - 1n)
    expect(() => b.add('k', 2n ** 64n)).toThrow(RangeError) // the delta itself is out of range
    // A stored bigint outside int64 is the right type but outside a
    // counter's range: a RangeError, as an overflow is.
    for (const huge of [2n ** 63n, -(2n ** 63n) - 1n, 2n ** 100n]) {
      b.set('huge', huge)
      expect(() => b.add('huge', 1n)).toThrow(RangeError)
      expect(() => b.add('huge', 0n)).toThrow(/outside the signed 64-bit range/)
      expect(b.get('huge')).toBe(huge)
    }

    const a = new ThreadMap<string, unknown>(null, { keys: 'string', values: 'any', strategy })
    a.set('str', 'text')
    expect(() => a.add('str', 1)).toThrow(TypeError)
    a.set('num', 1)
    expect(() => a.add('num', 1n)).toThrow(TypeError)
    expect(() => a.add('num', 'x' as unknown as number)).toThrow(TypeError)
    expect(() => a.add('str', 1n)).toThrow(TypeError)
    expect(() => a.add('str', 1n)).toThrow(/not a bigint/)
    a.set('huge', -(2n ** 64n))
    expect(() => a.add('huge', 1n)).toThrow(RangeError)
    expect(() => a.add('huge', 1)).toThrow(TypeError) // a number delta on a bigint
    a.set('big', 1n)
    expect(() => a.add('big', 1)).toThrow(TypeError)
    expect(a.get('str')).toBe('text')
    expect(a.get('num')).toBe(1)
    expect(a.get('huge')).toBe(-(2n ** 64n))
    expect(a.get('big')).toBe(1n)
  })

  test('bad options are TypeErrors or RangeErrors naming the choices', () => {
    expect(() => new ThreadMap(null, { keys: 'object' as KeyTypeName })).toThrow(/'string', 'number', 'bigint', 'bytes' or 'any'/)
    expect(() => new ThreadMap(null, { keys: 'object' as KeyTypeName })).toThrow(TypeError)
    expect(() => new ThreadMap(null, { values: 'date' as ValueTypeName })).toThrow(TypeError)
    expect(() => new ThreadMap(null, { values: 'date' as ValueTypeName })).toThrow(/'json', 'structured' or 'any'/)
    const choices = `${STRATEGIES.map((x) => `'${x}'`).join(', ')}, or 'auto'`
    expect(() => new ThreadMap(null, { strategy: 'nonesuch' as 'mutex' })).toThrow(choices)
    expect(() => new ThreadMap(null, { strategy: 'nonesuch' as 'mutex' })).toThrow(TypeError)
    expect(() => new ThreadMap(null, { capacity: -1 })).toThrow(RangeError)
    expect(() => new ThreadMap(null, { capacity: 1.5 })).toThrow(RangeError)
    expect(() => new ThreadMap(null, { capacity: '10' as unknown as number })).toThrow(TypeError)
    expect(() => new ThreadMap(null, { maxMemory: NaN })).toThrow(RangeError)
    expect(() => new ThreadMap(null, 'striped' as unknown as undefined)).toThrow(TypeError)
    expect(new ThreadMap(null, { strategy: 'auto' }).strategy).toBe('striped')
  })

  test('a rejected option or a bad first entry leaves no native map behind', () => {
    // Synchronous: no finalizer can run in between, so the count is exact.
    const before = liveMaps()
    const rejected: [unknown, ErrorConstructor][] = [
      [{ keys: 'object' }, TypeError],
      [{ values: 1 }, TypeError],
      [{ strategy: 'nonesuch' }, TypeError],
      [{ capacity: '10' }, TypeError],
      [{ maxMemory: null }, TypeError],
      [{ capacity: -1 }, RangeError],
      [{ maxMemory: 2 ** 53 }, RangeError],
      [{ capacity: 0.5 }, RangeError],
      [{ strategy, capacity: 1_000_000, maxMemory: 1024 }, RangeError],
    ]
    for (const [options, type] of rejected) {
      expect(() => new ThreadMap(null, options as ThreadMapOptions)).toThrow(type)
    }
    const entries: [string, unknown][] = [
      ['k', 1],
      ['k', Symbol('s')],
    ]
    expect(() => new ThreadMap(entries, { keys: 'string', values: 'any', strategy })).toThrow(TypeError)
    expect(liveMaps()).toBe(before)
  })
})

describe('handles', () => {
  const handleOf = (m: AnyMap): ThreadMapHandle => m.handle()

  test('a handle is a plain, cloneable object and attach gives the same map', () => {
    const m = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy: 'mutex' })
    m.set('a', 1)
    const h = m.handle()
    expect(h).toEqual({ threadmap: 1, id: m.id, keys: 'string', values: 'number', strategy: 'mutex' })
    const cloned = structuredClone(h)
    const again = ThreadMap.attach<string, number>(cloned)
    expect(again.get('a')).toBe(1)
    again.set('b', 2)
    expect(m.get('b')).toBe(2)
    const viaJson = ThreadMap.attach<string, number>(JSON.parse(JSON.stringify(h)) as ThreadMapHandle)
    expect(viaJson.size).toBe(2)
  })

  test('not-a-handle is a TypeError', () => {
    const m = new ThreadMap()
    const good = handleOf(m)
    const forged: unknown[] = [
      undefined,
      null,
      42,
      'handle',
      {},
      { ...good, threadmap: 2 },
      { ...good, id: String(good.id) },
      { ...good, id: -1 },
      { ...good, id: 1.5 },
      { ...good, id: NaN },
      { ...good, id: 2 ** 60 },
      { ...good, keys: 'object' },
      { ...good, values: undefined },
      { ...good, strategy: 'nonesuch' },
    ]
    for (const h of forged) expect(() => ThreadMap.attach(h as ThreadMapHandle)).toThrow(TypeError)
  })

  test('a forged or stale id is an Error, never a crash', () => {
    const m = new ThreadMap()
    const good = handleOf(m)
    expect(() => ThreadMap.attach({ ...good, id: 2 ** 53 - 1 })).toThrow(/no live map/)
    expect(() => ThreadMap.attach({ ...good, id: 0 })).toThrow(Error)
    expect(() => ThreadMap.attach({ ...good, keys: 'string' })).toThrow(/stale or forged/)
    expect(() => ThreadMap.attach({ ...good, strategy: good.strategy === 'mutex' ? 'striped' : 'mutex' })).toThrow(Error)
    m.close()
    expect(() => ThreadMap.attach(good)).toThrow(Error)
    expect(() => m.handle()).toThrow(/closed/)
  })

  test('a handle to a map that was garbage-collected is stale', async () => {
    let h: ThreadMapHandle | null = null
    ;(() => {
      const m = new ThreadMap(null, { keys: 'number' })
      m.set(1, 1)
      h = m.handle()
    })()
    const stale = h as unknown as ThreadMapHandle
    const gone = await collectUntil(() => {
      try {
        ThreadMap.attach(stale).close()
        return false
      } catch {
        return true
      }
    })
    expect(gone).toBe(true)
    expect(() => ThreadMap.attach(stale)).toThrow(/no live map/)
    // Ids are never reused: new maps do not make the old handle valid.
    const fresh = new ThreadMap(null, { keys: 'number' })
    expect(fresh.id).not.toBe(stale.id)
    expect(() => ThreadMap.attach(stale)).toThrow(Error)
  })
})

describe('closed maps', () => {
  test('every call after close() throws a clear Error; close() again is harmless', () => {
    const m = new ThreadMap<string, number>(null, { keys: 'string', values: 'number' })
    m.set('a', 1)
    const other = ThreadMap.attach<string, number>(m.handle())
    expect(m.closed).toBe(false)
    m.close()
    expect(m.closed).toBe(true)
    expect(other.closed).toBe(true)
    for (const map of [m, other]) {
      const calls: (() => unknown)[] = [
        () => map.get('a'),
        () => map.set('a', 1),
        () => map.has('a'),
        () => map.delete('a'),
        () => map.size,
        () => map.clear(),
        () => map.getOrSet('a', 1),
        () => map.setIfAbsent('a', 1),
        () => map.compareAndSet('a', 1, 2),
        () => map.swap('a', 1),
        () => map.take('a'),
        () => map.add('a', 1),
        () => map.update('a', () => 1),
        () => map.stats(),
        () => [...map],
        () => map.forEach(() => undefined),
        () => [...map.keys()],
        () => [...map.values()],
        () => map.getMany(['a']),
        () => map.hasMany(['a']),
        () => map.deleteMany(['a']),
        () => map.setMany([['a', 1]]),
        () => map.handle(),
      ]
      for (const call of calls) expect(call).toThrow(/closed/)
      // What describes the map still answers.
      expect([map.id, map.keyType, map.valueType, map.closed]).toEqual([m.id, 'string', 'number', true])
    }
    expect(() => m.close()).not.toThrow()
    expect(() => other.close()).not.toThrow()
  })

  test('Symbol.dispose closes', () => {
    const m = new ThreadMap()
    m[Symbol.dispose]()
    expect(m.closed).toBe(true)
    expect(() => m.get(1)).toThrow(Error)
  })

  test('closing during an iteration makes the iteration throw, never crash', () => {
    const m = new ThreadMap<number, number>(null, { keys: 'number', values: 'number', strategy: 'striped' })
    for (let i = 0; i < 20_000; i++) m.set(i, i)
    const it = m.entries()
    it.next()
    m.close()
    expect(() => {
      for (let r = it.next(); !r.done; r = it.next()) {
        /* drain what was already copied, then the next unit throws */
      }
    }).toThrow(/closed/)
  })
})

describe('the native addon cannot be misused into a crash', () => {
  const root = path.resolve(__dirname, '..', '..')
  const requireHere = createRequire(path.join(root, 'package.json'))
  const load = requireHere('node-gyp-build') as (dir: string) => Record<string, unknown>
  type Fn = (...args: unknown[]) => unknown
  const native = load(root) as {
    NativeMap: new (o?: object) => object
    info: Fn
    get: Fn
    setIfAbsent: Fn
    size: Fn
    close: Fn
    iterate: (ref: unknown, mode: number) => Record<string, Fn>
  }

  test('info() of anything but a NativeMap is a TypeError', () => {
    for (const bad of [{}, null, undefined, 1, 'x', new Map(), Object.create(null)]) {
      expect(() => native.info(bad)).toThrow(TypeError)
    }
    const it = native.iterate((native.info(new native.NativeMap()) as { ref: number }).ref, 2)
    expect(() => native.info(it)).toThrow(TypeError)
  })

  test('forged, stale and foreign map references are Errors', () => {
    const m = new native.NativeMap({ keys: 'number' })
    const { ref } = native.info(m) as { ref: number }
    native.setIfAbsent(ref, 1, 'one')
    expect(native.get(ref, 1)).toBe('one')
    // A slot no environment has (ref + 1 could be another live map of this one),
    // and the same slot one generation on.
    for (const bad of [ref + 2 ** 31, ref + 2 ** 32, -1, 1.5, NaN, 2 ** 53, '0', undefined, {}, 1n]) {
      expect(() => native.get(bad, 1)).toThrow(Error)
      expect(() => native.size(bad)).toThrow(Error)
    }
    expect(() => (native.get as () => unknown)()).toThrow(Error)
  })

  test('a reference outlives its map object only as an Error', async () => {
    let ref = -1
    ;(() => {
      const m = new native.NativeMap()
      ref = (native.info(m) as { ref: number }).ref
    })()
    const gone = await collectUntil(() => {
      try {
        native.size(ref)
        return false
      } catch {
        return true
      }
    })
    expect(gone).toBe(true)
    // A new map may take the slot; the old reference still does not reach it.
    const fresh = new native.NativeMap()
    const freshRef = (native.info(fresh) as { ref: number }).ref
    expect(() => native.size(ref)).toThrow(/not a live map reference/)
    expect(native.size(freshRef)).toBe(0)
  })

  test('iterator methods called on foreign receivers are TypeErrors', () => {
    const m = new native.NativeMap({})
    const it = native.iterate((native.info(m) as { ref: number }).ref, 2)
    const nextFn = it.next as Fn
    expect(() => nextFn.call(m)).toThrow(TypeError)
    expect(() => nextFn.call({})).toThrow(TypeError)
    expect(() => nextFn.call(new Map())).toThrow(TypeError)
    expect(() => nextFn.call(undefined)).toThrow(TypeError)
    const Iter = Object.getPrototypeOf(it).constructor as new () => unknown
    expect(() => new Iter()).toThrow(TypeError)
    expect(nextFn.call(it)).toBeNull()
  })
})

// A view whose ArrayBuffer was transferred away has length 0 but is not an
// empty key or value: it is a TypeError that changes nothing. Node 20 detaches
// through structuredClone's transfer list; Node 22+ also has
// ArrayBuffer.prototype.transfer().
type Detach = (buffer: ArrayBuffer) => void
const detachers: [string, Detach][] = [['structuredClone transfer', (b) => void structuredClone(b, { transfer: [b] })]]
const transfer = (ArrayBuffer.prototype as { transfer?: (this: ArrayBuffer) => ArrayBuffer }).transfer
if (typeof transfer === 'function') detachers.push(['ArrayBuffer.prototype.transfer', (b) => void transfer.call(b)])

function detached<T extends ArrayBufferView>(view: T, how: Detach): T {
  how(view.buffer as ArrayBuffer)
  expect(view.byteLength).toBe(0)
  return view
}

describe.each(STRATEGIES)('detached buffers (%s)', (strategy) => {
  describe.each(detachers)('detached by %s', (_how, how) => {
    // Every shape of view a user may hold once its buffer is gone.
    const views = (): Uint8Array[] => [
      detached(new Uint8Array([1, 2, 3]), how),
      detached(Buffer.alloc(5, 7), how),
      detached(new Uint8Array(new ArrayBuffer(16), 4, 8), how),
      detached(new Uint8Array(new ArrayBuffer(16), 16, 0), how), // empty before, and detached
      detached(new Uint8Array(0), how),
    ]

    test('a detached bytes key is a TypeError in every operation and never the empty key', () => {
      const m = new ThreadMap<Uint8Array, string>(null, { keys: 'bytes', values: 'string', strategy })
      m.set(new Uint8Array(0), 'empty')
      m.set(new Uint8Array([1, 2, 3]), 'abc')
      const before = snapshot(m as AnyMap)
      for (const bad of views()) {
        expect(() => m.set(bad, 'x')).toThrow(TypeError)
        expect(() => m.set(bad, 'x')).toThrow(/detached/)
        expect(() => m.get(bad)).toThrow(TypeError)
        expect(() => m.has(bad)).toThrow(TypeError)
        expect(() => m.delete(bad)).toThrow(TypeError)
        expect(() => m.getOrSet(bad, 'x')).toThrow(TypeError)
        expect(() => m.setIfAbsent(bad, 'x')).toThrow(TypeError)
        expect(() => m.compareAndSet(bad, 'empty', 'x')).toThrow(TypeError)
        expect(() => m.compareAndSet(bad, undefined, 'x')).toThrow(TypeError)
        expect(() => m.compareAndSet(bad, 'empty', undefined)).toThrow(TypeError)
        expect(() => m.swap(bad, 'x')).toThrow(TypeError)
        expect(() => m.take(bad)).toThrow(TypeError)
        expect(() => m.update(bad, () => 'x')).toThrow(TypeError)
      }
      expect(snapshot(m as AnyMap)).toBe(before)
      expect(m.get(new Uint8Array(0))).toBe('empty')
      const counters = new ThreadMap<Uint8Array, number>(null, { keys: 'bytes', values: 'number', strategy })
      counters.set(new Uint8Array(0), 5)
      for (const bad of views()) expect(() => counters.add(bad, 1)).toThrow(TypeError)
      expect(counters.get(new Uint8Array(0))).toBe(5)
      expect(counters.size).toBe(1)
    })

    test('a detached bytes value is a TypeError that changes nothing', () => {
      const m = new ThreadMap<string, Uint8Array>(null, { keys: 'string', values: 'bytes', strategy })
      m.set('k', new Uint8Array([9]))
      m.set('empty', new Uint8Array(0))
      for (const bad of views()) {
        expect(() => m.set('k', bad)).toThrow(TypeError)
        expect(() => m.set('k', bad)).toThrow(/value .*detached/)
        expect(() => m.set('new', bad)).toThrow(TypeError)
        expect(() => m.getOrSet('new', bad)).toThrow(TypeError)
        expect(() => m.setIfAbsent('new', bad)).toThrow(TypeError)
        expect(() => m.swap('k', bad)).toThrow(TypeError)
        expect(() => m.compareAndSet('k', new Uint8Array([9]), bad)).toThrow(TypeError)
        // A detached expected value is not "the empty value" either.
        expect(() => m.compareAndSet('empty', bad, new Uint8Array([1]))).toThrow(TypeError)
        expect(() => m.update('k', () => bad)).toThrow(TypeError)
      }
      expect(m.get('k')).toEqual(new Uint8Array([9]))
      expect(m.get('empty')).toEqual(new Uint8Array(0))
      expect(m.has('new')).toBe(false)
      expect(m.size).toBe(2)
    })

    test.each(['structured', 'any'] as const)('a detached view as a %s value is a TypeError', (values) => {
      const m = new ThreadMap<string, unknown>(null, { keys: 'string', values, strategy })
      m.set('k', 1)
      for (const bad of views()) {
        expect(() => m.set('k', bad)).toThrow(TypeError)
        expect(() => m.set('k', { nested: bad })).toThrow(TypeError)
        expect(() => m.setIfAbsent('new', bad)).toThrow(TypeError)
        expect(() => m.compareAndSet('k', 1, bad)).toThrow(TypeError)
      }
      expect(m.get('k')).toBe(1)
      expect(m.size).toBe(1)
    })

    test('a json value is what JSON.stringify makes of a view, detached or not', () => {
      const m = new ThreadMap<string, unknown>(null, { keys: 'string', values: 'json', strategy })
      m.set('live', new Uint8Array([1, 2]))
      m.set('gone', views()[0])
      expect(m.get('live')).toEqual({ 0: 1, 1: 2 })
      expect(m.get('gone')).toEqual({})
    })

    test('a batch holding one detached key or value is rejected whole', () => {
      const m = new ThreadMap<Uint8Array, Uint8Array>(null, { keys: 'bytes', values: 'bytes', strategy })
      m.set(new Uint8Array(0), new Uint8Array([0]))
      const before = snapshot(m as AnyMap)
      const keys = (): Uint8Array[] => [new Uint8Array([1]), new Uint8Array([2]), views()[0], new Uint8Array([3])]
      const values = [1, 2, 3, 4].map((i) => new Uint8Array([i]))
      expect(() => m.getMany(keys())).toThrow(/key at index 2 .*detached/)
      expect(() => m.hasMany(keys())).toThrow(TypeError)
      expect(() => m.deleteMany(keys())).toThrow(TypeError)
      expect(() => m.setMany(keys(), values)).toThrow(TypeError)
      expect(() => m.setMany(keys().map((k, i) => [k, values[i]] as const))).toThrow(TypeError)
      const badValues = [...values.slice(0, 3), views()[1]]
      expect(() => m.setMany(values, badValues)).toThrow(/value at index 3 .*detached/)
      expect(() => m.setMany(values.map((k, i) => [k, badValues[i]] as const))).toThrow(TypeError)
      // Past one native call's worth: checked whole before the first write.
      const many: Uint8Array[] = Array.from({ length: 10_000 }, (_, i) => new Uint8Array([i & 255, i >> 8, 1]))
      many[9_000] = views()[2]
      expect(() => m.setMany(many, many.map(() => new Uint8Array([1])))).toThrow(/index 9000/)
      expect(() => m.deleteMany(many)).toThrow(TypeError)
      expect(snapshot(m as AnyMap)).toBe(before)
    })

    test('a detached typed array of batch keys or values is a TypeError, not an empty batch', () => {
      const m = new ThreadMap<number, number>(null, { keys: 'number', values: 'number', strategy })
      m.set(1, 1)
      const f64 = (): Float64Array => detached(new Float64Array([1, 2, 3]), how)
      expect(() => m.getMany(f64())).toThrow(TypeError)
      expect(() => m.getMany(f64())).toThrow(/detached/)
      expect(() => m.hasMany(f64())).toThrow(TypeError)
      expect(() => m.deleteMany(f64())).toThrow(TypeError)
      expect(() => m.setMany(f64(), f64())).toThrow(TypeError)
      expect(() => m.setMany(new Float64Array([5, 6, 7]), f64())).toThrow(TypeError)
      expect(() => m.setMany([5, 6, 7], f64())).toThrow(TypeError)
      expect(() => m.setMany(f64(), [5, 6, 7])).toThrow(TypeError)
      const b = new ThreadMap<bigint, bigint>(null, { keys: 'bigint', values: 'bigint', strategy })
      expect(() => b.getMany(detached(new BigInt64Array([1n]), how))).toThrow(TypeError)
      expect(() => b.setMany(detached(new BigUint64Array([1n]), how), [1n])).toThrow(TypeError)
      expect(b.size).toBe(0)
      expect(m.size).toBe(1)
      expect(m.get(1)).toBe(1)
    })
  })

  test('a buffer detached by user code after the call began is still rejected', () => {
    // toJSON runs while the values are encoded, after the keys were looked at.
    const m = new ThreadMap<Uint8Array, unknown>(null, { keys: 'bytes', values: 'json', strategy })
    m.set(new Uint8Array(0), 'empty')
    const key = new Uint8Array([1, 2])
    const sneaky = { toJSON: () => (structuredClone(key.buffer, { transfer: [key.buffer as ArrayBuffer] }), 1) }
    expect(() => m.set(key, sneaky)).toThrow(TypeError)
    const keys = new Float64Array([1, 2])
    const sneakyBatch = { toJSON: () => (structuredClone(keys.buffer, { transfer: [keys.buffer as ArrayBuffer] }), 1) }
    const n = new ThreadMap<number, unknown>(null, { keys: 'number', values: 'json', strategy })
    expect(() => n.setMany(keys, [1, sneakyBatch])).toThrow(TypeError)
    expect(n.size).toBe(0)
    expect(m.size).toBe(1)
    expect(m.get(new Uint8Array(0))).toBe('empty')
  })

  test('an empty view that is not detached stays a valid empty key and value', () => {
    const m = new ThreadMap<Uint8Array, Uint8Array>(null, { keys: 'bytes', values: 'bytes', strategy })
    const empties = [
      new Uint8Array(0),
      Buffer.alloc(0),
      new Uint8Array(new ArrayBuffer(0)),
      new Uint8Array(new ArrayBuffer(8), 8, 0),
      new Uint8Array([1, 2, 3]).subarray(1, 1),
    ]
    for (const e of empties) {
      m.set(e, e)
      expect(m.get(new Uint8Array(0))).toEqual(new Uint8Array(0))
      expect(m.compareAndSet(e, e, e)).toBe(true)
    }
    expect(m.getMany(empties)).toEqual(empties.map(() => new Uint8Array(0)))
    m.setMany(empties, empties)
    expect(m.size).toBe(1)
    const n = new ThreadMap<number, number>(null, { keys: 'number', values: 'number', strategy })
    expect(n.getMany(new Float64Array(0))).toEqual([])
    n.setMany(new Float64Array(0), new Float64Array(0))
    expect(n.size).toBe(0)
  })
})
