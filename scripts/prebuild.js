#!/usr/bin/env node
'use strict'
// `npm run prebuild`: make prebuilds/<platform>-<arch>/threadmap.glibc.node
// (or .musl.node) with prebuildify --napi --strip, cmake-js standing in for
// node-gyp (scripts/prebuild-gyp.js), then check that the result loads.
//
// prebuildify takes (moves) <cwd>/build/Release/*.node, so it runs in a
// staging folder, build-prebuild-stage/, with --out pointing back at the
// package root: the developer's own build/Release is never touched.

const fs = require('fs')
const os = require('os')
const path = require('path')
const { spawnSync } = require('child_process')

const root = path.resolve(__dirname, '..')
const platformArch = `${os.platform()}-${os.arch()}`
const prebuildDir = path.join(root, 'prebuilds', platformArch)
const stage = path.join(root, 'build-prebuild-stage')
const shim = path.join(root, 'scripts', 'prebuild-gyp.js')

function log(msg) {
  process.stdout.write(`prebuild: ${msg}\n`)
}

function fail(msg) {
  process.stderr.write(`prebuild: ERROR: ${msg}\n`)
  process.exit(1)
}

function runPrebuildify() {
  let bin
  try {
    bin = require.resolve('prebuildify/bin.js', { paths: [root] })
  } catch {
    fail('prebuildify is not installed: run npm install first')
  }
  fs.chmodSync(shim, 0o755) // prebuildify spawns it directly, without a shell
  fs.rmSync(stage, { recursive: true, force: true })
  fs.mkdirSync(stage, { recursive: true })
  const { name } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify({ name, private: true }))
  const args = [
    bin,
    stage,
    `--out=${root}`,
    '--napi',
    '--strip',
    '--tag-libc',
    `--target=node@${process.versions.node}`,
  ]
  log(`PREBUILD_NODE_GYP=${path.relative(root, shim)} prebuildify ${args.slice(1).map((a) => a.replace(root, '.')).join(' ')}`)
  const r = spawnSync(process.execPath, args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, PREBUILD_NODE_GYP: shim, THREADMAP_ROOT: root },
  })
  if (r.error) fail(`could not run prebuildify: ${r.error.message}`)
  if (r.status !== 0) fail(`prebuildify exited with ${r.status ?? r.signal}`)
  fs.rmSync(stage, { recursive: true, force: true })
}

// Load the prebuild the way a user's install does: node-gyp-build with
// PREBUILDS_ONLY=1, so build/Release cannot stand in for it. Then, if the
// TypeScript layer is compiled, use the wrapper through it once.
function verify(expected) {
  const code = `
    const assert = require('assert')
    const root = process.argv[1]
    const ngb = require(require.resolve('node-gyp-build', { paths: [root] }))
    const file = ngb.path(root)
    assert.strictEqual(file, process.argv[2], 'node-gyp-build resolved ' + file)
    const addon = require(file)
    assert.ok(addon && typeof addon === 'object' && Object.keys(addon).length > 0, 'addon exports nothing')
    let smoke = 'addon exports: ' + Object.keys(addon).slice(0, 8).join(', ')
    const dist = require('path').join(root, 'dist', 'index.js')
    if (require('fs').existsSync(dist)) {
      const { ThreadMap } = require(dist)
      const m = new ThreadMap()
      m.set('answer', 42)
      assert.strictEqual(m.get('answer'), 42)
      assert.strictEqual(m.size, 1)
      smoke += '; dist/index.js ThreadMap set/get OK'
    }
    process.stdout.write(smoke)
  `
  const r = spawnSync(process.execPath, ['-e', code, root, expected], {
    cwd: os.tmpdir(),
    encoding: 'utf8',
    env: { ...process.env, PREBUILDS_ONLY: '1' },
    timeout: 60_000,
  })
  if (r.status !== 0) fail(`the prebuild does not load:\n${r.stderr || r.stdout}`)
  log(`loads with PREBUILDS_ONLY=1: ${r.stdout}`)
}

function main() {
  fs.rmSync(prebuildDir, { recursive: true, force: true })
  runPrebuildify()
  const made = fs.existsSync(prebuildDir) ? fs.readdirSync(prebuildDir).filter((f) => f.endsWith('.node')) : []
  if (made.length !== 1) fail(`expected one .node file in ${prebuildDir}, found: ${made.join(', ') || 'none'}`)
  const file = path.join(prebuildDir, made[0])
  const size = fs.statSync(file).size
  log(`made ${path.relative(root, file)} (${(size / 1024).toFixed(0)} KiB, stripped)`)
  verify(file)
}

main()
