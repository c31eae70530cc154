// One source per set of names: the codec table (native/addon/codec.cpp) for
// key and value types, the core's threadmap::all_strategies for strategies.
// The TypeScript tuples in lib/native.ts mirror them for the types, and the
// error messages are made from the sources; this file fails when any copy
// drifts from its source.
import { describe, expect, test } from 'vitest'

import { STRATEGIES, ThreadMap } from '../../lib/index'
import { addon, KEY_TYPE_NAMES, STRATEGY_NAMES, VALUE_TYPE_NAMES } from '../../lib/native'

describe('name lists', () => {
  test('the TypeScript tuples equal what the addon exports, in order', () => {
    expect([...addon.constants.KEY_TYPES]).toEqual([...KEY_TYPE_NAMES])
    expect([...addon.constants.VALUE_TYPES]).toEqual([...VALUE_TYPE_NAMES])
    expect([...addon.constants.STRATEGIES]).toEqual([...STRATEGY_NAMES])
    expect(STRATEGIES).toBe(addon.constants.STRATEGIES)
  })

  test('the exported lists are frozen', () => {
    for (const list of [addon.constants.KEY_TYPES, addon.constants.VALUE_TYPES, addon.constants.STRATEGIES]) {
      expect(Object.isFrozen(list)).toBe(true)
    }
  })

  test('every listed name is accepted, and the refusal names exactly the listed ones', () => {
    const quoted = (names: readonly string[], last: string): string =>
      names.map((n) => `'${n}'`).join(', ').replace(/, ([^,]*)$/, `${last}$1`)
    for (const keys of KEY_TYPE_NAMES) new ThreadMap(null, { keys }).close()
    for (const values of VALUE_TYPE_NAMES) new ThreadMap(null, { values }).close()
    for (const strategy of STRATEGY_NAMES) expect(new ThreadMap(null, { strategy }).strategy).toBe(strategy)
    expect(() => new ThreadMap(null, { keys: 'nope' as never })).toThrow(
      `threadmap: options.keys must be ${quoted(KEY_TYPE_NAMES, ' or ')}, got 'nope'`,
    )
    expect(() => new ThreadMap(null, { values: 'nope' as never })).toThrow(
      `threadmap: options.values must be ${quoted(VALUE_TYPE_NAMES, ' or ')}, got 'nope'`,
    )
    expect(() => new ThreadMap(null, { strategy: 'nope' as never })).toThrow(
      `threadmap: options.strategy must be ${quoted([...STRATEGY_NAMES, 'auto'], ', or ')}, got 'nope'`,
    )
  })
})
