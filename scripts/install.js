#!/usr/bin/env node
'use strict'
// Builds the native addon from source when no binary loads. Run by
// `npm run build-from-source`, the one command for a platform without a
// prebuild: `npm explore threadmap -- npm run build-from-source`. The
// published package has no install script: nothing runs at install time.
//
// 1. If node-gyp-build can already load a native binary for this platform
//    (build/Release/*.node or prebuilds/<platform>-<arch>/*.node), exit 0.
// 2. Otherwise build from source with cmake-js (Node-API mode, no header
//    download), then check again that the binary loads.
//
// A binary in build/Release that is older than the C++ sources (a checkout
// after `git pull`) is rebuilt incrementally; a prebuild is never rebuilt.
// Set THREADMAP_BUILD_FROM_SOURCE=1 (or pass --build-from-source) to force a
// build even when a binary loads.
//
// Only Node built-ins and node-gyp-build are used here: when threadmap is
// installed as a dependency, its devDependencies (cmake-js, node-addon-api)
// are absent; a forced build then fetches those two with npm, into the
// package's build-deps/ folder (see fetchBuildDeps).

const fs = require('fs')
const path = require('path')
const { spawnSync } = require('child_process')

const root = path.resolve(__dirname, '..')
const depsDir = path.join(root, 'build-deps')
const tag = 'threadmap:'

function log(msg) {
  process.stdout.write(`${tag} ${msg}\n`)
}

function fail(msg) {
  process.stderr.write(`${tag} ${msg}\n`)
  process.exit(1)
}

function truthy(v) {
  return v !== undefined && v !== '' && v !== '0' && v !== 'false'
}

// Resolve a module from the package root (works both in a checkout and when
// threadmap sits in someone's node_modules with its deps hoisted), or from
// the build tools fetchBuildDeps fetched.
function resolveFrom(request) {
  try {
    return require.resolve(request, { paths: [root, depsDir] })
  } catch {
    return null
  }
}

// Where on PATH is `name`? (A tiny `which`, so no dependency is needed.)
function which(name) {
  const dirs = (process.env.PATH || '').split(path.delimiter).filter(Boolean)
  for (const dir of dirs) {
    const file = path.join(dir, name)
    try {
      fs.accessSync(file, fs.constants.X_OK)
      if (fs.statSync(file).isFile()) return file
    } catch {
      // not here
    }
  }
  return null
}

// Load the addon in a child process, so a binary that crashes or fails to
// link cannot take this script down with it. Returns the loaded path or null.
function probe() {
  const ngb = resolveFrom('node-gyp-build')
  if (!ngb) return { ok: false, reason: 'node-gyp-build is not installed' }
  const code =
    'const b = require(process.argv[1]);' +
    'const p = b.path(process.argv[2]);' +
    'require(p);' +
    'process.stdout.write(p)'
  const r = spawnSync(process.execPath, ['-e', code, ngb, root], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  })
  if (r.status === 0 && r.stdout) return { ok: true, file: r.stdout.trim() }
  const lines = (r.stderr || '').split('\n').map((l) => l.trim())
  const message = lines.find((l) => /^[A-Za-z]*Error:/.test(l)) || lines.find(Boolean) || ''
  return { ok: false, reason: message.replace(/\s+/g, ' ') || `exit ${r.status ?? r.signal}` }
}

// Newest modification time among the files that go into the addon.
function newestSourceMtime() {
  let newest = 0
  const visit = (p) => {
    let st
    try {
      st = fs.statSync(p)
    } catch {
      return
    }
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(p)) visit(path.join(p, e))
    } else if (/\.(c|cc|cpp|cxx|h|hh|hpp|hxx|inl)$|CMakeLists\.txt$/.test(p)) {
      newest = Math.max(newest, st.mtimeMs)
    }
  }
  visit(path.join(root, 'native'))
  visit(path.join(root, 'CMakeLists.txt'))
  return newest
}

function isInBuildDir(file) {
  const rel = path.relative(path.join(root, 'build'), file)
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel)
}

function howToBuild() {
  return [
    'To build threadmap from source you need:',
    '  - cmake >= 3.20, a C++20 compiler (g++ >= 12 or clang >= 15) and ninja or make',
    '    (Debian/Ubuntu: apt-get install cmake ninja-build g++)',
    '  - the npm packages cmake-js and node-addon-api (fetched by the command below).',
    'In a project that depends on threadmap:  npm explore threadmap -- npm run build-from-source',
    'From a checkout of the threadmap repository:  npm install && npm run build:all',
  ].join('\n')
}

function cmakeJsCommand() {
  const local = path.join(root, 'node_modules', '.bin', 'cmake-js')
  if (fs.existsSync(local)) return { cmd: local, args: [] }
  // Hoisted into a parent node_modules (a workspace, say): run its bin with node.
  const pkg = resolveFrom('cmake-js/package.json')
  if (pkg) return { cmd: process.execPath, args: [path.join(path.dirname(pkg), 'bin', 'cmake-js')] }
  return null
}

// An installed package has no devDependencies: fetch the two a build needs,
// at the versions its package.json names, into build-deps/, a folder of their
// own. Not into the package folder: npm would read its package.json there,
// find the two among its devDependencies, and with --omit=dev install neither
// (npm 11.19.1 did just that). cmake-js looks for node-addon-api from the
// package root, so NODE_PATH points it at build-deps/ too.
function fetchBuildDeps() {
  const { devDependencies = {} } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  const specs = ['cmake-js', 'node-addon-api']
    .filter((name) => !resolveFrom(`${name}/package.json`))
    .map((name) => `${name}@${devDependencies[name] || 'latest'}`)
  if (specs.length > 0) {
    log(`fetching ${specs.join(' ')} with npm into ${path.relative(root, depsDir)}/`)
    fs.mkdirSync(depsDir, { recursive: true })
    fs.writeFileSync(path.join(depsDir, 'package.json'), '{ "private": true }\n')
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
    const args = ['install', '--no-save', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund']
    const r = spawnSync(npm, [...args, ...specs], { cwd: depsDir, stdio: 'inherit', shell: process.platform === 'win32' })
    if (r.status !== 0) fail(`npm install ${specs.join(' ')} failed (exit ${r.status ?? r.signal})`)
  }
  const fetched = path.join(depsDir, 'node_modules')
  if (fs.existsSync(fetched)) {
    process.env.NODE_PATH = [fetched, process.env.NODE_PATH].filter(Boolean).join(path.delimiter)
  }
}

function build(why, fetchDeps) {
  log(`building the native addon from source (${why})`)
  if (fetchDeps) fetchBuildDeps()
  const cmakeJs = cmakeJsCommand()
  const missing = []
  if (!cmakeJs) missing.push('cmake-js (npm devDependency)')
  if (!resolveFrom('node-addon-api')) missing.push('node-addon-api (npm devDependency)')
  if (!which('cmake')) missing.push('cmake (not found on PATH)')
  const cxx = process.env.CXX || ['c++', 'g++', 'clang++'].find(which)
  if (!cxx) missing.push('a C++ compiler (no c++, g++ or clang++ on PATH, CXX not set)')
  const ninja = which('ninja')
  if (!ninja && !which('make')) missing.push('ninja or make (neither found on PATH)')
  if (missing.length) {
    fail(
      `no prebuilt binary for ${process.platform}-${process.arch} could be loaded, and building ` +
        `from source is not possible here. Missing:\n  - ${missing.join('\n  - ')}\n\n${howToBuild()}`,
    )
  }

  // Same command as `npm run build:native`; fall back to Makefiles without ninja.
  const args = [...cmakeJs.args, 'compile', '--out', 'build']
  if (ninja) args.push('-G', 'Ninja')
  const r = spawnSync(cmakeJs.cmd, args, { cwd: root, stdio: 'inherit' })
  if (r.error) fail(`could not run cmake-js: ${r.error.message}\n\n${howToBuild()}`)
  if (r.status !== 0) fail(`cmake-js exited with ${r.status ?? r.signal}; see the compiler output above.`)

  const after = probe()
  if (!after.ok) fail(`the build finished but the addon does not load: ${after.reason}`)
  log(`built ${path.relative(root, after.file)}`)
}

function main() {
  const force =
    process.argv.includes('--build-from-source') ||
    truthy(process.env.THREADMAP_BUILD_FROM_SOURCE) ||
    truthy(process.env.npm_config_build_from_source)
  if (force) return build('--build-from-source / THREADMAP_BUILD_FROM_SOURCE was set', true)

  const found = probe()
  if (!found.ok) return build(`no loadable binary: ${found.reason}`)

  const rel = path.relative(root, found.file)
  if (isInBuildDir(found.file)) {
    let binMtime = 0
    try {
      binMtime = fs.statSync(found.file).mtimeMs
    } catch {
      // vanished: rebuild below
    }
    if (newestSourceMtime() > binMtime) return build(`${rel} is older than the C++ sources`)
  }
  log(`native addon ready (${rel}); no build needed`)
}

main()
