// The ES module wrapper lists the CommonJS build's exports by name (a static
// `export` cannot be generated at run time): this holds the two lists equal,
// so a name added to lib/index.ts and forgotten in esm/index.mjs fails here.
import { createRequire } from 'node:module'
import * as path from 'node:path'
import { pathToFileURL } from 'node:url'

import { expect, test } from 'vitest'

const root = path.resolve(__dirname, '..', '..')

test('esm/index.mjs exports exactly the names of the CommonJS build, each the same value', async () => {
  const cjs = createRequire(path.join(root, 'package.json'))(path.join(root, 'dist', 'index.js')) as Record<string, unknown>
  const esm = (await import(pathToFileURL(path.join(root, 'esm', 'index.mjs')).href)) as Record<string, unknown>
  const names = (o: Record<string, unknown>): string[] => Object.keys(o).filter((k) => k !== 'default' && k !== '__esModule').sort()
  expect(names(esm)).toEqual(names(cjs))
  for (const name of names(cjs)) expect(esm[name], name).toBe(cjs[name])
  expect(esm.default).toBe(cjs.ThreadMap)
})
