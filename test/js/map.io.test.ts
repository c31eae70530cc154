// The io path: get, has, set, delete and add pass the map reference, number
// keys and number values through a per-thread buffer shared with native code
// instead of as arguments and results (lib/index.ts). It must be invisible:
// the same answers as the argument path, over every strategy, for 'number'
// and 'any' keys and for string keys with number values, with user code (a
// codec's toJSON) running in between, and from workers.
import { MessageChannel } from 'node:worker_threads'

import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { addon, io, IO_LAYOUT } from '../../lib/native'
import { STRATEGIES, runWorker } from './helpers'

describe.each(STRATEGIES)('io path (%s)', (strategy) => {
  test('number keys: the Map operations and add agree with the argument path', () => {
    const m = new ThreadMap<number, number>(null, { keys: 'number', values: 'number', strategy })
    const keys = [0, -0, 1, -1, 0.5, NaN, Infinity, -Infinity, 2 ** 53, Number.MIN_VALUE, 4294967295]
    keys.forEach((k, i) => m.set(k, i))
    expect(m.size).toBe(keys.length - 1) // -0 and 0 are one key
    expect(m.get(0)).toBe(1)
    expect(m.get(NaN)).toBe(5)
    // getMany takes the argument path: the two must agree key by key.
    expect(keys.map((k) => m.get(k))).toEqual(m.getMany(keys))
    expect(keys.map((k) => m.has(k))).toEqual(m.hasMany(keys))
    expect(m.add(7, 2)).toBe(2)
    expect(m.add(7, 3)).toBe(5)
    expect(m.delete(-0)).toBe(true)
    expect(m.has(0)).toBe(false)
    expect(m.delete(0)).toBe(false)
    expect(m.get(12345)).toBeUndefined()
    m.close()
  })

  test('number values: -0, NaN and missing keys come back as the argument path gives them', () => {
    const m = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    const values = [0, -0, 1.5, NaN, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53 + 2]
    values.forEach((v, i) => m.set(`k${i}`, v))
    values.forEach((v, i) => expect(Object.is(m.get(`k${i}`), v)).toBe(true))
    // getMany takes the argument path.
    expect(m.getMany(values.map((_, i) => `k${i}`))).toEqual(values)
    expect(Object.is(m.getMany(['k1'])[0], -0)).toBe(true)
    expect(m.get('absent')).toBeUndefined()
    // A get that misses must not return the previous call's value.
    expect(m.get('k2')).toBe(1.5)
    expect(m.get('absent')).toBeUndefined()
    expect(m.add('k2', 1)).toBe(2.5)
    expect(m.delete('k2')).toBe(true)
    expect(m.has('k2')).toBe(false)
    m.close()
  })

  test('a value of the wrong type on a number-valued map is a TypeError that changes nothing', () => {
    const m = new ThreadMap<unknown, unknown>(null, { keys: 'any', values: 'number', strategy })
    m.set('a', 1)
    m.set(2, 2)
    for (const bad of ['1', 1n, null, undefined, {}, true]) {
      expect(() => m.set('a', bad)).toThrow(TypeError)
      expect(() => m.set(2, bad)).toThrow(TypeError)
    }
    expect([m.get('a'), m.get(2), m.size]).toEqual([1, 2, 2])
    m.close()
  })

  test("'any' keys: numbers go through the buffer, strings and bigints as arguments, all distinct", () => {
    const m = new ThreadMap<unknown, unknown>(null, { strategy })
    m.set(1, 'number')
    m.set('1', 'string')
    m.set(1n, 'bigint')
    m.set(true, 'boolean')
    expect([m.get(1), m.get('1'), m.get(1n), m.get(true)]).toEqual(['number', 'string', 'bigint', 'boolean'])
    expect(m.has(1)).toBe(true)
    expect(m.add(2, 10)).toBe(10)
    expect(m.add(2n, 10n)).toBe(10n)
    expect(new Map(m)).toEqual(
      new Map<unknown, unknown>([
        [1, 'number'],
        ['1', 'string'],
        [1n, 'bigint'],
        [true, 'boolean'],
        [2, 10],
        [2n, 10n],
      ]),
    )
    expect(m.delete(1)).toBe(true)
    expect(m.get('1')).toBe('string')
    m.close()
  })

  test('user code run by a codec between calls cannot misdirect a write', () => {
    const other = new ThreadMap<number, number>(null, { keys: 'number', values: 'number', strategy })
    other.set(99, 1)
    const m = new ThreadMap<number, unknown>(null, { keys: 'number', values: 'json', strategy })
    // toJSON runs inside set(5, ...) and uses the io buffer for another map.
    const value = {
      toJSON(): string {
        other.set(100, other.get(99) ?? 0)
        return 'five'
      },
    }
    m.set(5, value)
    expect(m.get(5)).toBe('five')
    expect(m.has(100)).toBe(false)
    expect(other.get(100)).toBe(1)
    expect(other.has(5)).toBe(false)
    m.close()
    other.close()
  })
})

// What a transfer of an untransferable buffer does depends on Node: 20 copies
// it; 22 and later refuse with a DataCloneError (checked on 22, 24 and 26).
// Either way the buffer must stay attached, or native code would write into
// memory it no longer owns.
const refusesUntransferable = Number(process.versions.node.split('.')[0]) >= 22

function transferIo(send: () => unknown): unknown {
  if (!refusesUntransferable) return send()
  let thrown: unknown
  try {
    send()
  } catch (err) {
    thrown = err
  }
  expect(thrown).toBeInstanceOf(DOMException)
  expect((thrown as DOMException).name).toBe('DataCloneError')
  return undefined
}

test('the io buffer cannot be transferred away, and misuse is an Error, not a crash', () => {
  const before = addon.io.byteLength
  expect(before).toBeGreaterThanOrEqual(3 * Float64Array.BYTES_PER_ELEMENT)
  const copy = transferIo(() => structuredClone(addon.io, { transfer: [addon.io] }))
  if (!refusesUntransferable) {
    expect(copy).toBeInstanceOf(ArrayBuffer)
    expect(copy).not.toBe(addon.io)
    expect((copy as ArrayBuffer).byteLength).toBe(before)
  }
  const { port1, port2 } = new MessageChannel()
  transferIo(() => port1.postMessage(addon.io, [addon.io]))
  port1.close()
  port2.close()
  expect(addon.io.byteLength).toBe(before) // still attached on every Node
  expect(io.buffer).toBe(addon.io)
  expect(io.length).toBe(IO_LAYOUT.slots)
  const strings = new addon.NativeMap({ keys: 'string', values: 'number' })
  const numbers = new addon.NativeMap({ keys: 'number', values: 'number' })
  addon.setIfAbsent(addon.info(numbers).ref, 3, 30)
  io[0] = addon.info(numbers).ref
  io[1] = 3
  expect(addon.ioGet()).toBeUndefined() // found: number values come back in io[2]
  expect(io[2]).toBe(30)
  io[0] = addon.info(strings).ref
  io[1] = 3
  expect(() => addon.ioGet()).toThrow(/keys are numbers or 'any'/)
  const live = addon.info(numbers).ref
  // Near misses of a live reference too: a fraction above it, another
  // generation of its slot, and values only a double can hold.
  for (const forged of [-1, 0.5, 2 ** 60, NaN, Infinity, -Infinity, 2 ** 53, 5e-324, -live, live + 0.5, live + 2 ** 32]) {
    io[0] = forged
    expect(() => addon.ioHas()).toThrow(/not a live map reference/)
  }
  io[0] = live
  io[1] = 3
  expect(addon.ioHas()).toBe(true)
  // The key-argument forms: the key is required; number values go through
  // io[2] both ways.
  const sref = addon.info(strings).ref
  io[0] = sref
  expect(() => (addon.ioGetK as () => unknown)()).toThrow(/key argument is missing/)
  io[0] = sref // every io call uses up the reference, a failed one too
  io[2] = 7.25
  expect(addon.ioSetK('x')).toBe(true)
  io[2] = 0
  io[0] = sref
  expect(addon.ioGetK('x', 'MISSING')).toBeUndefined()
  expect(io[2]).toBe(7.25)
  io[0] = sref
  expect(addon.ioGetK('y', 'MISSING')).toBe('MISSING')
  io[0] = sref
  expect(() => addon.ioSetK('x', 'seven')).toThrow(TypeError)
  expect(addon.get(sref, 'x')).toBe(7.25)
  addon.close(addon.info(strings).ref)
  addon.close(addon.info(numbers).ref)
})

test('each worker has its own io buffer', async () => {
  const m = new ThreadMap<number, number>(null, { keys: 'number', values: 'number' })
  const n = 200_000
  // Both threads add at once (the worker starts while the main thread adds).
  const done = runWorker<{ sum: number }>('io-adder.mjs', { handle: m.handle(), from: 0, to: n })
  for (let i = 0; i < n; i++) m.add(i % 100, 1)
  expect((await done).sum).toBe(n)
  let total = 0
  for (let k = 0; k < 100; k++) total += m.get(k) ?? 0
  expect(total).toBe(2 * n)
  expect(m.size).toBe(100)
  m.close()
})
