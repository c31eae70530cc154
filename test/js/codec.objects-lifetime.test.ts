// The object codec keeps no map alive: a map whose objects were encoded and
// decoded (msgpackr remembers the last decoder it ran, in its module) is
// freed once nothing of the program holds it.
import { expect, test } from 'vitest'

import { liveMaps, ThreadMap } from '../../lib/index'
import { collect } from './helpers'

test('a map read through the object codec is freed when unreachable', async () => {
  await collect()
  const before = liveMaps()
  ;(() => {
    for (const values of ['any', 'structured'] as const) {
      const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
      map.set('k', { a: 1, b: [2, 'x'] })
      expect(map.get('k')).toEqual({ a: 1, b: [2, 'x'] })
    }
  })()
  for (let i = 0; i < 20 && liveMaps() !== before; i++) await collect()
  expect(liveMaps()).toBe(before)
})
