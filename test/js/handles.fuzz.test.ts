// Handle parsing under random input (fast-check): whatever object arrives in
// place of a handle, ThreadMap.attach throws an Error (TypeError for a bad
// shape) and never crashes or attaches to the wrong map; and the native attach
// does the same for arbitrary ids.
import fc from 'fast-check'
import { expect, test } from 'vitest'

import { ThreadMap, type ThreadMapHandle } from '../../lib/index'
import { addon } from '../../lib/native'

test('attach rejects arbitrary values', () => {
  fc.assert(
    fc.property(fc.anything({ withBigInt: true, withBoxedValues: true, withMap: true, withSet: true, withTypedArray: true }), (v) => {
      expect(() => ThreadMap.attach(v as ThreadMapHandle)).toThrow(Error)
    }),
    { numRuns: 2000 },
  )
})

test('attach with one field of a real handle replaced attaches to that map or throws', () => {
  const map = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy: 'striped' })
  map.set('k', 1)
  const good = map.handle() as unknown as Record<string, unknown>
  const fields = Object.keys(good)
  fc.assert(
    fc.property(fc.constantFrom(...fields), fc.anything({ withBigInt: true }), (field, value) => {
      const forged = { ...good, [field]: value } as unknown as ThreadMapHandle
      let attached: ThreadMap<string, number> | undefined
      try {
        attached = ThreadMap.attach<string, number>(forged)
      } catch (e) {
        expect(e).toBeInstanceOf(Error)
        return
      }
      // Only an equivalent handle may succeed, and then it is the same map.
      expect(attached.handle()).toEqual(map.handle())
      expect(attached.get('k')).toBe(1)
    }),
    { numRuns: 2000 },
  )
  map.close()
})

test('native attach takes only live ids', () => {
  fc.assert(
    fc.property(fc.oneof(fc.double(), fc.integer(), fc.bigInt(), fc.string(), fc.constant(undefined)), (id) => {
      let got: unknown
      try {
        got = addon.attach(id as number)
      } catch (e) {
        expect(e).toBeInstanceOf(Error)
        return
      }
      // A small integer can name a live map of this process: then it is one.
      expect(typeof id).toBe('number')
      expect(addon.info(got as never).id).toBe(id)
    }),
    { numRuns: 3000 },
  )
})
