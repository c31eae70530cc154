// Constructor options: a misspelt option or an unknown strategy is a
// TypeError that names the valid choices, and no native map is created.
import { expect, test } from 'vitest'

import { liveMaps, STRATEGIES, ThreadMap, type ThreadMapOptions } from '../../lib/index'

test('an unknown option is a TypeError naming the options, and creates nothing', () => {
  const before = liveMaps()
  for (const bad of [{ bogus: 1 }, { keys: 'string', maxmemory: 10 }, { Strategy: 'striped' }]) {
    expect(() => new ThreadMap(null, bad as ThreadMapOptions)).toThrow(TypeError)
    expect(() => new ThreadMap(null, bad as ThreadMapOptions)).toThrow(/keys, values, strategy, capacity, maxMemory, numa/)
  }
  expect(liveMaps()).toBe(before)
})

test('an unknown strategy is a TypeError naming every strategy and auto', () => {
  let message = ''
  try {
    new ThreadMap(null, { strategy: 'fastest' as never })
  } catch (e) {
    expect(e).toBeInstanceOf(TypeError)
    message = (e as Error).message
  }
  for (const s of [...STRATEGIES, 'auto']) expect(message).toContain(`'${s}'`)
})

test('every known option is accepted', () => {
  const m = new ThreadMap(null, { keys: 'string', values: 'number', strategy: 'auto', capacity: 10, maxMemory: 0, numa: 'none' })
  m.set('a', 1)
  expect(m.get('a')).toBe(1)
  m.close()
})
