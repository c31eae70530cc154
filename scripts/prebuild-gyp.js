#!/usr/bin/env node
'use strict'
// Stand-in for node-gyp, run by prebuildify through PREBUILD_NODE_GYP (see
// scripts/prebuild.js). prebuildify calls
//   <this> rebuild --target=<node version> --devdir=<cache> --arch=<arch> --release
// and then collects build/Release/*.node. cmake-js does not understand those
// node-gyp arguments (its --target means a CMake target), so this script
// translates them: a Node-API build needs no headers for a given Node version,
// so --target and --devdir are ignored.
//
// The build happens in its own directory (build-prebuild/), configured only
// by this script, so it is a Release build with cmake-js's defaults whatever
// state the developer's build/ is in; being private, it can be rebuilt
// incrementally (cmake-js compile falls back to a full rebuild on failure).
// prebuildify runs this in a staging folder (its cwd, see prebuild.js), and
// the product is copied to <cwd>/build/Release/ where prebuildify looks, so
// the developer's build/Release is never touched. THREADMAP_ROOT names the
// source tree (default: the cwd).

const fs = require('fs')
const path = require('path')
const { spawnSync } = require('child_process')

const root = path.resolve(process.env.THREADMAP_ROOT || process.cwd())
const stage = process.cwd()
const outDir = 'build-prebuild'

function fail(msg) {
  process.stderr.write(`prebuild-gyp: ${msg}\n`)
  process.exit(1)
}

function which(name) {
  for (const dir of (process.env.PATH || '').split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, name)
    try {
      fs.accessSync(file, fs.constants.X_OK)
      return file
    } catch {
      // not here
    }
  }
  return null
}

const args = process.argv.slice(2)
const command = args.find((a) => !a.startsWith('-'))
if (command !== 'rebuild' && command !== 'build') fail(`unsupported command ${command}`)
const opt = (name) => {
  const hit = args.find((a) => a.startsWith(`--${name}=`))
  return hit ? hit.slice(name.length + 3) : undefined
}
const arch = opt('arch') || process.arch
if (arch !== process.arch) fail(`cross-compiling is not supported (host ${process.arch}, asked ${arch})`)
if (args.includes('--debug')) fail('only Release prebuilds are made')

const cmakeJs = path.join(root, 'node_modules', '.bin', 'cmake-js')
if (!fs.existsSync(cmakeJs)) fail(`${cmakeJs} not found: run npm install first`)

const cmakeArgs = ['compile', '--out', outDir, '--arch', arch]
if (which('ninja')) cmakeArgs.push('-G', 'Ninja')
process.stdout.write(`prebuild-gyp: cmake-js ${cmakeArgs.join(' ')} (node-gyp args: ${args.join(' ')})\n`)
const r = spawnSync(cmakeJs, cmakeArgs, { cwd: root, stdio: 'inherit' })
if (r.error) fail(`could not run cmake-js: ${r.error.message}`)
if (r.status !== 0) fail(`cmake-js exited with ${r.status ?? r.signal}`)

const built = path.join(root, outDir, 'Release')
const products = fs.readdirSync(built).filter((f) => f.endsWith('.node'))
if (products.length !== 1) fail(`expected one .node file in ${built}, found: ${products.join(', ') || 'none'}`)
const dest = path.join(stage, 'build', 'Release')
fs.mkdirSync(dest, { recursive: true })
fs.copyFileSync(path.join(built, products[0]), path.join(dest, products[0]))
process.stdout.write(`prebuild-gyp: copied ${outDir}/Release/${products[0]} to ${path.relative(root, dest)}/\n`)
