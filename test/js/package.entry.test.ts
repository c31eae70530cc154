// The package's entry points: the compiled CommonJS build (require) and the
// ES module wrapper (import) expose one and the same ThreadMap.
import { createRequire } from 'node:module'
import * as path from 'node:path'
import { pathToFileURL } from 'node:url'
import { inspect } from 'node:util'

import { expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'

type Entry = typeof import('../../lib/index')
const root = path.resolve(__dirname, '..', '..')

test('require(dist) and import(esm) give the same class and functions', async () => {
  const cjs = createRequire(path.join(root, 'package.json'))(path.join(root, 'dist', 'index.js')) as Entry
  const esm = (await import(pathToFileURL(path.join(root, 'esm', 'index.mjs')).href)) as Entry & {
    default: unknown
  }
  expect(typeof cjs.ThreadMap).toBe('function')
  expect(esm.ThreadMap).toBe(cjs.ThreadMap)
  expect(esm.default).toBe(cjs.ThreadMap)
  expect(esm.liveMaps).toBe(cjs.liveMaps)
  expect(esm.MAX_KEY_BYTES).toBe(65535)
  expect(esm.STRATEGIES).toEqual(cjs.STRATEGIES)
  expect(cjs.STRATEGIES).toEqual(expect.arrayContaining(['mutex', 'striped']))
  // A map made by one entry point attaches through the other and through
  // the TypeScript source: they share the one addon binding.
  const m = new cjs.ThreadMap<string, number>(null, { keys: 'string', values: 'number' })
  m.set('x', 1)
  expect(esm.ThreadMap.attach<string, number>(m.handle()).get('x')).toBe(1)
  expect(ThreadMap.attach<string, number>(m.handle()).get('x')).toBe(1)
  m.close()
})

test('util.inspect shows the entries like a Map, and closed maps as closed', () => {
  const m = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy: 'mutex' })
  m.set('a', 1)
  expect(inspect(m)).toMatch(/^ThreadMap\(1\) <mutex string => number, id \d+> \{ 'a' => 1 \}$/)
  m.close()
  expect(inspect(m)).toMatch(/^ThreadMap <closed>/)
})
