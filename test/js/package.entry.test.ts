// The package's entry points: the compiled CommonJS build (require) and the
// ES module wrapper (import) expose one and the same ThreadMap.
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import { createRequire } from 'node:module'
import * as os from 'node:os'
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

test('a platform with no prebuild gets an error naming it, the shipped targets and the build command', () => {
  // A copy of the package with no prebuilds/ and no build/: what a user on an
  // unsupported platform has. It must fail at require, clearly, not at install.
  const pkg = fs.mkdtempSync(path.join(os.tmpdir(), 'threadmap-noprebuild-'))
  try {
    fs.cpSync(path.join(root, 'dist'), path.join(pkg, 'dist'), { recursive: true })
    fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'threadmap', main: 'dist/index.js' }))
    fs.mkdirSync(path.join(pkg, 'node_modules'))
    fs.symlinkSync(path.join(root, 'node_modules', 'node-gyp-build'), path.join(pkg, 'node_modules', 'node-gyp-build'))
    const r = spawnSync(process.execPath, ['-e', "require('./dist/index.js')"], { cwd: pkg, encoding: 'utf8' })
    expect(r.status).not.toBe(0)
    const line = r.stderr.split('\n').find((l) => l.startsWith('Error: threadmap:')) ?? r.stderr
    expect(line).toContain(`no native binary for this platform: ${process.platform}-${process.arch}, libc `)
    if (process.platform === 'linux') expect(line).toMatch(/libc (glibc \d+\.\d+|musl)/)
    expect(line).toContain(`Node ${process.versions.node}`)
    expect(line).toContain(
      'ships binaries for linux-x64 and linux-arm64 (glibc >= 2.28, musl), darwin-x64, darwin-arm64, win32-x64',
    )
    expect(line).toContain('run: npm explore threadmap -- npm run build-from-source')
  } finally {
    fs.rmSync(pkg, { recursive: true, force: true })
  }
})
