// The hash is keyed by a secret drawn from the OS in each process
// (native/core/include/threadmap/detail/hash.hpp), so where a key lands, and so the
// order in which a map iterates, differs from process to process: keys
// crafted to collide in one process are not known to collide in another.
// Two fresh node processes insert the same keys into every strategy and
// print the iteration order.
import { execFileSync } from 'node:child_process'
import * as path from 'node:path'

import { expect, test } from 'vitest'

import { STRATEGIES } from './helpers'

const entry = path.resolve(__dirname, '..', '..', 'dist', 'index.js')

const child = `
const { ThreadMap } = require(${JSON.stringify(entry)})
const out = {}
for (const strategy of ${JSON.stringify(STRATEGIES)}) {
  const m = new ThreadMap(null, { keys: 'string', values: 'number', strategy })
  for (let i = 0; i < 2000; i++) m.set('key:' + i, i)
  out[strategy] = [...m.keys()]
  m.close()
}
process.stdout.write(JSON.stringify(out))
`

function orders(): Record<string, string[]> {
  return JSON.parse(execFileSync(process.execPath, ['-e', child], { encoding: 'utf8' })) as Record<string, string[]>
}

test('two processes iterate the same keys in different orders, for every strategy', () => {
  const a = orders()
  const b = orders()
  const keys = Array.from({ length: 2000 }, (_, i) => `key:${i}`).sort()
  for (const s of STRATEGIES) {
    // The same set of keys...
    expect([...a[s]].sort()).toEqual(keys)
    expect([...b[s]].sort()).toEqual(keys)
    // ...in another order: with an unkeyed hash both processes agreed on it.
    // 'ordered' keeps no hash order: it iterates in key order everywhere.
    if (s === 'ordered') expect([a[s], b[s]]).toEqual([keys, keys])
    else expect(a[s]).not.toEqual(b[s])
  }
})
