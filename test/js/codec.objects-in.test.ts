// set of an object the record writer takes hands the addon the writer's
// chunk and where the bytes lie in it (native/addon/io_protocol.hpp,
// "Objects in"), not a Uint8Array of them. These check that what is stored
// is always the value just encoded: at a chunk's very end, in the chunk
// after it, past a chunk's size, with other sets running during the encode
// (getters) or before the call (options' getters), and that the binding
// refuses a range that is not inside the buffer.
import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { addon, io, IO_LAYOUT } from '../../lib/native'
import { writtenBuffer, writtenEnd, writtenStart } from '../../lib/records'

const OBJECT_TYPES = ['any', 'structured'] as const

// A value whose encoding is 15 + m bytes for 16 <= m < 65536 (a record
// reference, a 10-character string, an array header of 3 bytes, m trues)
// and which the writer can end exactly at a chunk's end: its last bytes
// are trues, each of which asks room for itself only.
const sized = (m: number): { s: string; list: boolean[] } => ({ s: 'abcdefghij', list: new Array<boolean>(m).fill(true) })
const rest = (): number => writtenBuffer().byteLength - writtenEnd()

describe.each(OBJECT_TYPES)('set of objects in place (values %s)', (values) => {
  test('values ending exactly at a chunk\'s end or a few bytes short, and the value after them in a new chunk', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    const kept: [string, unknown][] = []
    let n = 0
    const put = (m: number): void => {
      const key = `k${n++}`
      const x = sized(m)
      map.set(key, x)
      kept.push([key, x])
      expect(map.get(key)).toEqual(x)
    }
    put(100)
    expect(writtenEnd() - writtenStart()).toBe(115) // the size the steering below assumes
    for (const short of [0, 1, 2, 3, 14, 15, 16]) {
      // Steer to 100-20,100 bytes before the chunk's end (a value that does
      // not fit takes a new chunk), then fill to `short` bytes before it.
      while (rest() - short < 100 || rest() - short > 20_100) put(rest() - short > 20_100 ? 20_000 : 200)
      put(rest() - short - 15)
      expect(rest()).toBe(short)
      const chunk = writtenBuffer()
      put(16) // 31 bytes: always a new chunk here
      expect(writtenBuffer()).not.toBe(chunk)
      expect(writtenStart()).toBe(0)
    }
    for (const [key, x] of kept) expect(map.get(key)).toEqual(x)
    map.close()
  })

  test('a value longer than a chunk, and values on either side of it', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    const xs = [sized(300), sized(200_000), sized(40), { a: 'é'.repeat(70_000) }, sized(17)]
    xs.forEach((x, i) => map.set(`k${i}`, x))
    xs.forEach((x, i) => expect(map.get(`k${i}`)).toEqual(x))
    map.close()
  })

  test('sets during the encode, from getters, into this map and another: each keeps its own value', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    const other = new ThreadMap<number, unknown>(null, { keys: 'number', values: 'any' })
    const x = {
      a: 'first',
      get b(): number[] {
        map.set('inner', { c: 'inner value', d: [1, 2] })
        other.set(1, { e: 'other map' })
        map.setMany(['batch1', 'batch2'], [{ f: 1 }, { g: [2] }])
        return [3, 4]
      },
      h: { i: 'after the getter' },
    }
    map.set('outer', x)
    expect(map.get('outer')).toEqual({ a: 'first', b: [3, 4], h: { i: 'after the getter' } })
    expect(map.get('inner')).toEqual({ c: 'inner value', d: [1, 2] })
    expect(other.get(1)).toEqual({ e: 'other map' })
    expect(map.get('batch1')).toEqual({ f: 1 })
    expect(map.get('batch2')).toEqual({ g: [2] })
    map.close()
    other.close()
  })

  test('a set from an options getter, after the value was encoded and before it is stored', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    const options = {
      get ttl(): undefined {
        map.set('from the getter', { other: 'value', n: 2 })
        return undefined
      },
    }
    map.set('k', { mine: 'value', n: 1 }, options)
    expect(map.get('k')).toEqual({ mine: 'value', n: 1 })
    expect(map.get('from the getter')).toEqual({ other: 'value', n: 2 })
    map.close()
  })
})

describe('ioSetWritten: bad arguments', () => {
  const { ref: REF, value: LENGTH, valueOffset: OFFSET } = IO_LAYOUT

  // A map holding k = 'before', and its reference for the io calls.
  function setup(values: 'any' | 'structured' | 'string'): { map: ThreadMap<string, unknown>; ref: number } {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    map.set('k', 'before')
    return { map, ref: addon.info(addon.attach(map.id)).ref }
  }
  const call = (ref: number, at: number, length: number, buffer: unknown): boolean => {
    io[REF] = ref
    io[OFFSET] = at
    io[LENGTH] = length
    return addon.ioSetWrittenK('k', buffer as ArrayBuffer)
  }

  test('a range outside the buffer, or not whole numbers, is a RangeError that changes nothing', () => {
    const { map, ref } = setup('any')
    const buffer = new ArrayBuffer(16)
    for (const [at, length] of [
      [0, 17],
      [16, 1],
      [15, 2],
      [-1, 2],
      [0, 0],
      [0.5, 2],
      [0, 2.5],
      [NaN, 1],
      [0, NaN],
      [2 ** 53, 1],
      [0, Infinity],
    ] as const) {
      expect(() => call(ref, at, length, buffer), `${at}, ${length}`).toThrow(RangeError)
    }
    const detached = new ArrayBuffer(16)
    structuredClone(detached, { transfer: [detached] })
    expect(() => call(ref, 0, 1, detached)).toThrow(RangeError)
    expect(map.get('k')).toBe('before')
    map.close()
  })

  test('anything but an ArrayBuffer, or a map of other values, is a TypeError that changes nothing', () => {
    const { map, ref } = setup('any')
    for (const b of [new Uint8Array(16), new SharedArrayBuffer(16), undefined, 'bytes', 16, {}]) {
      expect(() => call(ref, 0, 1, b)).toThrow(TypeError)
    }
    expect(map.get('k')).toBe('before')
    map.close()
    const strings = setup('string')
    const bytes = new Uint8Array([0x81, 0xa1, 0x61, 0x01]) // {a: 1}
    expect(() => call(strings.ref, 0, 4, bytes.buffer)).toThrow(TypeError)
    expect(strings.map.get('k')).toBe('before')
    strings.map.close()
  })

  test('the named bytes are what is stored, as a Uint8Array of them would be', () => {
    const { map, ref } = setup('structured')
    const bytes = new Uint8Array([0xee, 0xee, 0x81, 0xa1, 0x61, 0x07, 0xee]) // {a: 7} at 2-5
    expect(call(ref, 2, 4, bytes.buffer)).toBe(false) // replaced, not inserted
    expect(map.get('k')).toEqual({ a: 7 })
    map.close()
  })
})
