// The boundary benchmark's lookup floor (floor.lookupLoad / floor.lookup) is
// the figure that shows how cheap a native get can be; it must really look
// keys up, or the comparison means nothing. The floor lives in the lab addon
// (native/lab), which the package does not ship.
import { describe, expect, test } from 'vitest'

import { loadLab } from '../../native/lab'

const lab = loadLab()

describe('boundary floor: plain-table lookup', () => {
  test('finds every loaded key with its index, and NaN for a missing one', () => {
    const keys = Array.from({ length: 5000 }, (_, i) => `user:${(i * 2654435761 >>> 0).toString(16)}`)
    keys.push('', 'é', '\u{1F600}', 'x'.repeat(126), 'x'.repeat(15), 'x'.repeat(16), 'B\u0141')
    const out = new Float64Array(1)
    lab.floor.lookupLoad(keys, out)
    keys.forEach((k, i) => {
      out[0] = -1
      lab.floor.lookup(k)
      expect(out[0]).toBe(i)
    })
    // '\u0141' narrowed to a byte would be 'A'; a 16-byte key is one past the inline ones.
    for (const missing of ['user:', 'e', 'x'.repeat(125), 'USER:0', 'A', '\u0141', 'y'.repeat(16)]) {
      lab.floor.lookup(missing)
      expect(out[0]).toBeNaN()
    }
  })

  test('a reload replaces the table and the output array', () => {
    const first = new Float64Array(1)
    lab.floor.lookupLoad(['a', 'b'], first)
    const second = new Float64Array(2)
    lab.floor.lookupLoad(['b'], second)
    lab.floor.lookup('b')
    expect(second[0]).toBe(0)
    lab.floor.lookup('a')
    expect(second[0]).toBeNaN()
    expect(first[0]).toBe(0) // untouched since the reload
  })

  test('bad input is a TypeError and keeps the loaded table', () => {
    const out = new Float64Array(1)
    lab.floor.lookupLoad(['k'], out)
    const floor = lab.floor as unknown as Record<string, (...a: unknown[]) => void>
    expect(() => floor.lookupLoad!('k', out)).toThrow(TypeError)
    expect(() => floor.lookupLoad!(['k'], new Float32Array(1))).toThrow(TypeError)
    expect(() => floor.lookupLoad!(['k', 7], out)).toThrow(TypeError)
    expect(() => floor.lookupLoad!(['y'.repeat(127)], out)).toThrow(TypeError)
    expect(() => floor.lookup!(42)).toThrow(TypeError)
    expect(() => floor.lookup!('z'.repeat(200))).toThrow(TypeError)
    lab.floor.lookup('k')
    expect(out[0]).toBe(0)
  })
})
