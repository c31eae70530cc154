#!/usr/bin/env node
// `npm run test:from-source`: what a user on a platform with no prebuild goes
// through, end to end, from the packed tarball.
//
//  1. `npm pack` the repository; `npm install <tarball>` into an empty
//     project; delete node_modules/threadmap/prebuilds/, so this machine
//     has no prebuild, as on a platform the package does not ship one for.
//  2. `require('threadmap')` must throw an Error that names this platform,
//     arch and libc, every target that ships, and the one command that builds
//     from source.
//  3. Run that command, taken from the message, in the project (it fetches
//     cmake-js and node-addon-api from the npm registry into the package's
//     folder and builds with this machine's cmake, C++ compiler and ninja).
//  4. `require('threadmap')` now loads node_modules/threadmap/build/Release's
//     binary, and a map shared with a worker gives exact totals.
//
// Exits non-zero naming the failed step. THREADMAP_KEEP_TMP=1 keeps the folder.

import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
// The targets a user must be told about (scripts/prebuild.js builds them).
const TARGETS = ['linux-x64', 'linux-arm64', 'musl', 'darwin-x64', 'darwin-arm64', 'win32-x64']

let step = 'setup'
const section = (name) => {
  step = name
  console.log(`\n== test:from-source: ${name}`)
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts })
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`)
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`.trimEnd()
  if (text) console.log(text.replace(/^/gm, '   | '))
  return r
}

function mustSh(cmd, args, opts = {}) {
  const r = sh(cmd, args, opts)
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`)
  return r
}

// What the user's own program does: require the package, share a map with a
// worker, check the totals; prints the binary node-gyp-build loaded.
const USE = `'use strict'
const assert = require('node:assert/strict')
const { Worker, isMainThread, workerData } = require('node:worker_threads')
const { ThreadMap } = require('threadmap')
if (!isMainThread) {
  const map = ThreadMap.attach(workerData)
  for (let i = 0; i < 10000; i++) map.add('n', 1)
  return
}
const map = new ThreadMap(null, { keys: 'string', values: 'number' })
const w = new Worker(__filename, { workerData: map.handle() })
for (let i = 0; i < 10000; i++) map.add('n', 1)
w.on('exit', (code) => {
  assert.equal(code, 0)
  assert.equal(map.get('n'), 20000)
  map.close()
  const dir = require('node:path').dirname(require.resolve('threadmap/package.json'))
  console.log('loaded ' + require('node-gyp-build').path(dir))
})
`

function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'threadmap-from-source-'))
  // npm run's own settings must not reach the nested npm commands.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && !['INIT_CWD', 'NODE_OPTIONS'].includes(k)),
  )
  try {
    section('npm pack; npm install <tarball>; remove the prebuilds')
    const packDir = path.join(tmp, 'pack')
    fs.mkdirSync(packDir)
    mustSh('npm', ['pack', '--silent', '--pack-destination', packDir], { cwd: root, env })
    const [tgz] = fs.readdirSync(packDir).filter((f) => f.endsWith('.tgz'))
    const app = path.join(tmp, 'app')
    fs.mkdirSync(app)
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'from-source-test', private: true }))
    fs.writeFileSync(path.join(app, 'use.cjs'), USE)
    mustSh('npm', ['install', '--no-audit', '--no-fund', path.join(packDir, tgz)], { cwd: app, env, timeout: 300_000 })
    const pkg = path.join(app, 'node_modules', 'threadmap')
    fs.rmSync(path.join(pkg, 'prebuilds'), { recursive: true, force: true })
    if (fs.existsSync(path.join(pkg, 'build'))) throw new Error('node_modules/threadmap/build exists before any build')

    section('require() with no prebuild: the error')
    const failed = sh(process.execPath, ['use.cjs'], { cwd: app, env, timeout: 60_000 })
    if (failed.status === 0) throw new Error('require succeeded with no prebuild and no build')
    const message = /Error: (threadmap: no native binary[^\n]*)/.exec(failed.stderr)?.[1]
    if (!message) throw new Error('the error is not threadmap\'s "no native binary" message')
    const glibc = process.report.getReport().header.glibcVersionRuntime
    const libc = process.platform !== 'linux' ? '' : glibc ? `glibc ${glibc}` : 'musl'
    const command = /run: (npm explore threadmap -- npm run [a-z-]+)/.exec(message)?.[1]
    const wanted = [`${process.platform}-${process.arch}`, libc, ...TARGETS, 'npm explore threadmap -- npm run build-from-source']
    const absent = wanted.filter((w) => !message.includes(w))
    if (absent.length || !command) throw new Error(`the message does not name ${absent.join(', ') || 'a command'}`)
    console.log(`   names ${wanted.join('; ')}`)

    section(`the command it names: ${command}`)
    const started = Date.now()
    mustSh('sh', ['-c', command], { cwd: app, env, timeout: 900_000 })
    console.log(`   built in ${((Date.now() - started) / 1000).toFixed(0)} s`)

    section('require() after the build')
    const ok = mustSh(process.execPath, ['use.cjs'], { cwd: app, env, timeout: 120_000 })
    const loaded = /loaded (.*)/.exec(ok.stdout)?.[1]
    if (loaded !== path.join(pkg, 'build', 'Release', 'threadmap.node')) throw new Error(`loaded ${loaded}`)
  } finally {
    if (process.env.THREADMAP_KEEP_TMP === '1') console.log(`\n   kept ${tmp}`)
    else fs.rmSync(tmp, { recursive: true, force: true })
  }
  console.log('\ntest:from-source: PASSED (no prebuild: a clear error naming the command; the command builds; the build loads)')
}

try {
  main()
} catch (err) {
  console.error(`\ntest:from-source: FAILED at step "${step}":\n${err && err.message ? err.message : err}`)
  process.exit(1)
}
