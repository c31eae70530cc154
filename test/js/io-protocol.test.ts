// The io buffer's layout is defined once, in native/addon/io_protocol.hpp;
// the TypeScript layer indexes the buffer through its own copy (IO_LAYOUT in
// lib/native.ts). The addon exports its constants as `ioLayout`: the two must
// agree field by field, or a write would land in the wrong slot.
import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { IO_LAYOUT, addon, io, type KeyTypeName, type ValueTypeName } from '../../lib/native'

describe('io protocol', () => {
  test("the TypeScript mirror equals the addon's ioLayout, field by field", () => {
    const native = addon.ioLayout
    const { numberKeys, numberValues, ...slots } = native
    // Every layout field the addon has, the mirror has, with the same value.
    expect(Object.keys(slots).sort()).toEqual(Object.keys(IO_LAYOUT).sort())
    for (const [name, value] of Object.entries(IO_LAYOUT)) {
      expect([name, slots[name as keyof typeof slots]]).toEqual([name, value])
    }
    // The type lists are read straight from the addon; they must name types.
    expect(Array.isArray(numberKeys) && Array.isArray(numberValues)).toBe(true)
    expect(Object.isFrozen(native) && Object.isFrozen(numberKeys) && Object.isFrozen(numberValues)).toBe(true)
  })

  test('the slots are distinct and inside the buffer', () => {
    const { ref, key, value, slots } = addon.ioLayout
    expect(new Set([ref, key, value]).size).toBe(3)
    for (const slot of [ref, key, value]) {
      expect(Number.isInteger(slot) && slot >= 0 && slot < slots).toBe(true)
    }
    expect(io.length).toBe(slots)
    expect(addon.io.byteLength).toBe(slots * Float64Array.BYTES_PER_ELEMENT)
  })

  test('the number rule: numbers travel in the buffer for the types the addon names, and only those', () => {
    const { numberKeys, numberValues } = addon.ioLayout
    expect([...numberKeys].sort()).toEqual(['any', 'number'])
    expect([...numberValues]).toEqual(['number'])
    // On a map whose values travel there, get leaves the value in the value
    // slot; on another, the value slot is not written.
    const keys: KeyTypeName = 'string'
    for (const values of ['number', 'json'] as ValueTypeName[]) {
      const m = new ThreadMap<string, unknown>(null, { keys, values })
      m.set('k', 42)
      io[IO_LAYOUT.value] = -7
      expect(m.get('k')).toBe(42)
      expect(io[IO_LAYOUT.value]).toBe(values === 'number' ? 42 : -7)
      m.close()
    }
    // Each call leaves noRef in the reference slot.
    const n = new ThreadMap<number, number>(null, { keys: 'number', values: 'number' })
    n.set(1, 2)
    expect(io[IO_LAYOUT.ref]).toBe(IO_LAYOUT.noRef)
    expect(n.get(1)).toBe(2)
    expect(io[IO_LAYOUT.ref]).toBe(IO_LAYOUT.noRef)
    n.close()
  })
})
