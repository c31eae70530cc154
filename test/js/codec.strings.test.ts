// Strings cross by two routes (native/addon/codec.cpp): short ones are read
// as UTF-16 and encoded to UTF-8/WTF-8 natively, long ones through Node-API's
// UTF-8 conversion (rewritten as WTF-8 when a lone surrogate shows up). Both
// must give the same bytes for the same string: around the boundary and far
// from it, keys and values round-trip and never collide. Back to JS they go
// by three: all-ASCII bytes as Latin-1, other UTF-8 as UTF-8, WTF-8 as UTF-16
// (the pieces below take each).
import { describe, expect, test } from 'vitest'

import { MAX_KEY_BYTES, ThreadMap } from '../../lib/index'

const pieces = ['a', 'é', '€', '😀', '\uD800', '\uDC00', '\uFFFD', '\0']
// Lengths in UTF-16 units around the route boundary (127/128) and past it.
const lengths = [0, 1, 13, 125, 126, 127, 128, 129, 200, 5000]

function stringsOf(length: number): string[] {
  const out = new Set<string>()
  for (const p of pieces) {
    const filler = 'x'.repeat(Math.max(0, length - p.length))
    out.add((p + filler).slice(0, Math.max(length, p.length)))
    out.add((filler + p).slice(-Math.max(length, p.length)))
  }
  return [...out]
}

describe('strings by both routes', () => {
  test.each(lengths)('keys of %i units round-trip and never collide', (length) => {
    const m = new ThreadMap<string, number>(null, { keys: 'string', values: 'number' })
    const keys = stringsOf(length)
    keys.forEach((k, i) => m.set(k, i))
    expect(m.size).toBe(keys.length)
    keys.forEach((k, i) => expect(m.get(k)).toBe(i))
    expect(new Set(m.keys())).toEqual(new Set(keys))
    // A lone surrogate and U+FFFD in the same place are different keys.
    const a = 'z' + 'y'.repeat(length) + '\uD800'
    const b = 'z' + 'y'.repeat(length) + '\uFFFD'
    m.set(a, -1)
    expect(m.get(b)).toBeUndefined()
    m.close()
  })

  test.each(lengths)("values of %i units round-trip (and 'any' keys take the same bytes)", (length) => {
    const m = new ThreadMap<unknown, string>(null, { values: 'string' })
    for (const s of stringsOf(length)) {
      m.set(s, s)
      expect(m.get(s)).toBe(s)
    }
    m.close()
  })

  test('a long key is measured in encoded bytes on either route', () => {
    const m = new ThreadMap<string, number>(null, { keys: 'string', values: 'number' })
    const euro = '€'.repeat(MAX_KEY_BYTES / 3) // 3 bytes each: exactly the limit
    m.set(euro, 1)
    expect(m.get(euro)).toBe(1)
    expect(() => m.set(euro + 'x', 2)).toThrow(/is 65536 bytes once encoded; the limit is 65535/)
    const lone = '\uD800'.repeat(MAX_KEY_BYTES / 3) // WTF-8: 3 bytes each
    m.set(lone, 3)
    expect(m.get(lone)).toBe(3)
    expect(m.get('\uFFFD'.repeat(MAX_KEY_BYTES / 3))).toBeUndefined()
    m.close()
  })
})
