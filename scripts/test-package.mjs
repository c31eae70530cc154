#!/usr/bin/env node
// `npm run test:package`: prove threadmap works the way users get it.
//
//  1. `npm pack` the repository (its `prepack` script compiles dist/) and
//     check that the tarball holds every prebuild that is in prebuilds/ (of
//     the seven SHIPPED), dist/*.js, dist/*.d.ts and esm/index.mjs, no build/
//     or node_modules/, no lab addon (native/lab: the bench's floor and the
//     tests' checker; no .node file but the SHIPPED ones), and no
//     install-time script; print the tarball's and
//     each binary's size. The prebuilds checked are the ones present: CI
//     builds only this machine's (`npm run prebuild -- linux-x64-glibc`), and
//     this script names the targets it did not check. This machine's binary
//     must be there (step 3 loads it). `--release` (or THREADMAP_RELEASE=1)
//     requires all seven, as after `npm run prebuild` with no arguments.
//  2. In an empty temporary folder, `npm install <tarball>` with default npm
//     settings (no npm_config_* inherited from `npm run`) and a PATH that holds
//     only node, npm and npx: no compiler, cmake or make can be reached, which
//     this script checks before installing.
//  3. There, run a CommonJS script (`require('threadmap')`, handle passed in
//     workerData) and an ES module (`import`, handle passed by postMessage):
//     each creates a ThreadMap, shares it with workers that `add` to counters
//     while the main thread does too, and checks the exact totals. The
//     CommonJS one also lists the loaded binary's exports: they must be
//     exactly the members of the `Addon` interface in the tarball's
//     dist/native.d.ts (lib/native.ts, the one typed contract of the addon,
//     read with this checkout's TypeScript), and none of the lab addon's
//     (the `Lab` interface of native/lab/index.d.ts).
//
// Exits non-zero with a message naming the failed step. Set
// THREADMAP_KEEP_TMP=1 to keep the temporary folder for inspection.

import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { checkPrebuild } from './check-prebuild.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const platformArch = `${os.platform()}-${os.arch()}`
// Every binary the package ships (scripts/prebuild.js makes them).
// file -> target id of scripts/prebuild.js (what scripts/check-prebuild.mjs takes)
const TARGET_OF = {
  'prebuilds/linux-x64/threadmap.glibc.node': 'linux-x64-glibc',
  'prebuilds/linux-x64/threadmap.musl.node': 'linux-x64-musl',
  'prebuilds/linux-arm64/threadmap.glibc.node': 'linux-arm64-glibc',
  'prebuilds/linux-arm64/threadmap.musl.node': 'linux-arm64-musl',
  'prebuilds/darwin-x64/threadmap.node': 'darwin-x64',
  'prebuilds/darwin-arm64/threadmap.node': 'darwin-arm64',
  'prebuilds/win32-x64/threadmap.node': 'win32-x64',
}
const SHIPPED = Object.keys(TARGET_OF)
const RELEASE = process.argv.includes('--release') || process.env.THREADMAP_RELEASE === '1'
// This machine's binary, the one step 3 loads (node-gyp-build's file names).
const HOST_PREBUILD = (() => {
  if (os.platform() !== 'linux') return `prebuilds/${platformArch}/threadmap.node`
  const glibc = process.report?.getReport()?.header?.glibcVersionRuntime
  return `prebuilds/${platformArch}/threadmap.${glibc ? 'glibc' : 'musl'}.node`
})()
const FORBIDDEN_TOOLS = ['cc', 'c++', 'gcc', 'g++', 'clang', 'clang++', 'cmake', 'make', 'ninja', 'ld']

let step = 'setup'
const section = (name) => {
  step = name
  console.log(`\n== test:package: ${name}`)
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts })
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`)
  return r
}

function mustRun(cmd, args, opts = {}) {
  const r = run(cmd, args, opts)
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}\n--- stdout\n${r.stdout ?? ''}\n--- stderr\n${r.stderr ?? ''}`,
    )
  }
  return r
}

// `which` over an explicit PATH string, so the check does not depend on a shell.
function whichIn(pathValue, name) {
  for (const dir of pathValue.split(path.delimiter).filter(Boolean)) {
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

function indent(text) {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `   | ${l}`)
    .join('\n')
}

// ---------------------------------------------------------------------------
// The programs run inside the consumer folder. Each exits 0 only when every
// total is exact. WORKERS workers and the main thread each add 1 to
// COUNTERS counters ROUNDS times in round-robin, all at the same time.

const COMMON = { WORKERS: 2, COUNTERS: 8, ROUNDS: 40_000 }

const CJS_MAIN = `'use strict'
const assert = require('node:assert/strict')
const path = require('node:path')
const { Worker } = require('node:worker_threads')
const { ThreadMap } = require('threadmap')
const { WORKERS, COUNTERS, ROUNDS } = ${JSON.stringify(COMMON)}

// The package resolved is the installed tarball, and its binary the prebuild.
const pkgDir = path.dirname(require.resolve('threadmap/package.json'))
assert.equal(pkgDir, path.join(__dirname, 'node_modules', 'threadmap'))
const ngb = require(require.resolve('node-gyp-build', { paths: [pkgDir] }))
const addonFile = ngb.path(pkgDir)
assert.ok(addonFile.includes(path.join('prebuilds', '${platformArch}')), 'addon loaded from ' + addonFile)
// What the binary exports, for test-package.mjs to hold against the typed contract.
console.log('EXPORTS ' + JSON.stringify(Object.getOwnPropertyNames(require(addonFile))))

async function main() {
  const map = new ThreadMap(null, { keys: 'string', values: 'number' })
  map.set('from-main', 7)
  const handle = map.handle()
  const workers = []
  for (let id = 0; id < WORKERS; id++) {
    workers.push(new Worker(path.join(__dirname, 'cjs-worker.cjs'), { workerData: { handle, id } }))
  }
  const done = workers.map(
    (w, id) =>
      new Promise((resolve, reject) => {
        w.on('error', reject)
        w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error('worker ' + id + ' exited with ' + code))))
      }),
  )
  for (let i = 0; i < ROUNDS; i++) map.add('counter:' + (i % COUNTERS), 1)
  await Promise.all(done)

  const each = ((WORKERS + 1) * ROUNDS) / COUNTERS
  for (let c = 0; c < COUNTERS; c++) assert.equal(map.get('counter:' + c), each, 'counter:' + c)
  for (let id = 0; id < WORKERS; id++) assert.equal(map.get('worker:' + id), ROUNDS, 'worker:' + id)
  assert.equal(map.size, 1 + COUNTERS + WORKERS)
  map.close()
  assert.throws(() => map.get('counter:0'), Error)
  console.log('CJS OK: ' + (WORKERS + 1) + ' threads x ' + ROUNDS + ' adds, ' + COUNTERS + ' counters = ' + each + ' each; binary ' + path.relative(__dirname, addonFile))
}
main().catch((err) => {
  console.error('CJS FAILED:', err && err.stack ? err.stack : err)
  process.exit(1)
})
`

const CJS_WORKER = `'use strict'
const assert = require('node:assert/strict')
const { workerData } = require('node:worker_threads')
const { ThreadMap } = require('threadmap')
const { COUNTERS, ROUNDS } = ${JSON.stringify(COMMON)}
const map = ThreadMap.attach(workerData.handle)
assert.equal(map.get('from-main'), 7)
for (let i = 0; i < ROUNDS; i++) map.add('counter:' + ((i + workerData.id) % COUNTERS), 1)
map.set('worker:' + workerData.id, ROUNDS)
`

const ESM_MAIN = `import assert from 'node:assert/strict'
import { Worker } from 'node:worker_threads'
import { ThreadMap } from 'threadmap'
const { WORKERS, COUNTERS, ROUNDS } = ${JSON.stringify(COMMON)}

try {
  const map = new ThreadMap(null, { keys: 'string', values: 'number' })
  map.set('from-main', 7)
  const workers = []
  for (let id = 0; id < WORKERS; id++) {
    const w = new Worker(new URL('./esm-worker.mjs', import.meta.url))
    // The handle crosses by postMessage (structured clone) this time.
    w.postMessage({ handle: map.handle(), id })
    workers.push(w)
  }
  const done = workers.map(
    (w, id) =>
      new Promise((resolve, reject) => {
        let said = null
        w.on('message', (m) => (said = m))
        w.on('error', reject)
        w.on('exit', (code) =>
          code === 0 && said === 'done' ? resolve() : reject(new Error('worker ' + id + ' exited with ' + code + ', said ' + said)),
        )
      }),
  )
  for (let i = 0; i < ROUNDS; i++) map.add('counter:' + (i % COUNTERS), 1)
  await Promise.all(done)

  const each = ((WORKERS + 1) * ROUNDS) / COUNTERS
  for (let c = 0; c < COUNTERS; c++) assert.equal(map.get('counter:' + c), each, 'counter:' + c)
  for (let id = 0; id < WORKERS; id++) assert.equal(map.get('worker:' + id), ROUNDS, 'worker:' + id)
  assert.equal(map.size, 1 + COUNTERS + WORKERS)
  map.close()
  assert.throws(() => map.get('counter:0'), Error)
  console.log('ESM OK: ' + (WORKERS + 1) + ' threads x ' + ROUNDS + ' adds, ' + COUNTERS + ' counters = ' + each + ' each')
} catch (err) {
  console.error('ESM FAILED:', err && err.stack ? err.stack : err)
  process.exit(1)
}
`

const ESM_WORKER = `import assert from 'node:assert/strict'
import { parentPort } from 'node:worker_threads'
import { ThreadMap } from 'threadmap'
const { COUNTERS, ROUNDS } = ${JSON.stringify(COMMON)}
parentPort.once('message', ({ handle, id }) => {
  const map = ThreadMap.attach(handle)
  assert.equal(map.get('from-main'), 7)
  for (let i = 0; i < ROUNDS; i++) map.add('counter:' + ((i + id) % COUNTERS), 1)
  map.set('worker:' + id, ROUNDS)
  parentPort.postMessage('done')
  parentPort.close()
})
`

// ---------------------------------------------------------------------------

function checkTarball(tgz, present) {
  const list = mustRun('tar', ['-tzf', tgz]).stdout.split('\n').filter(Boolean)
  const files = new Set(list.map((f) => f.replace(/^package\//, '')))
  const has = (f) => files.has(f)
  const problems = []
  for (const f of ['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'esm/index.mjs', 'scripts/install.js']) {
    if (!has(f)) problems.push(`missing ${f}`)
  }
  for (const f of present) if (!has(f)) problems.push(`missing ${f}`)
  const prebuilds = [...files].filter((f) => f.startsWith('prebuilds/') && f.endsWith('.node'))
  // No binary but the shipped ones (the lab addon, build/lab/threadmap_lab.node,
  // included), and no lab sources: they are bench and test scaffolding.
  for (const f of files) if (f.endsWith('.node') && !SHIPPED.includes(f)) problems.push(`unexpected ${f}`)
  for (const f of files) if (f.startsWith('native/lab/')) problems.push(`should not ship the lab's ${f}`)
  // No install-time script of any kind: npm 12 runs none, and none is needed.
  const manifest = JSON.parse(mustRun('tar', ['-xzOf', tgz, 'package/package.json']).stdout)
  for (const hook of ['preinstall', 'install', 'postinstall']) {
    if (manifest.scripts?.[hook]) problems.push(`package.json has a ${hook} script: ${manifest.scripts[hook]}`)
  }
  if (fs.existsSync(path.join(root, 'binding.gyp'))) problems.push('binding.gyp would make npm run node-gyp at install')
  const distJs = [...files].filter((f) => /^dist\/.*\.js$/.test(f))
  const distDts = [...files].filter((f) => /^dist\/.*\.d\.ts$/.test(f))
  // Every compiled module ships its declarations.
  for (const js of distJs) {
    if (!has(js.replace(/\.js$/, '.d.ts'))) problems.push(`${js} has no .d.ts beside it`)
  }
  for (const f of files) {
    if (/^(build|build-[^/]*|node_modules)\//.test(f)) problems.push(`should not ship ${f}`)
  }
  if (problems.length) throw new Error(`the tarball is incomplete:\n  - ${problems.join('\n  - ')}`)
  console.log(`   ${list.length} files; ${distJs.length} dist/*.js; ${distDts.length} dist/*.d.ts; esm/index.mjs; no install script`)
  for (const f of prebuilds) {
    console.log(`   ${f.padEnd(40)} ${(fs.statSync(path.join(root, f)).size / 1024).toFixed(0).padStart(6)} KiB`)
  }
}

// The property names of interface `name` in the declaration file `file`,
// inherited ones included, as this checkout's TypeScript compiler sees them.
function interfaceMembers(file, name) {
  const ts = createRequire(import.meta.url)('typescript')
  const program = ts.createProgram([file], { noEmit: true, types: [] })
  const checker = program.getTypeChecker()
  const module = checker.getSymbolAtLocation(program.getSourceFile(file))
  const symbol = module && checker.getExportsOfModule(module).find((s) => s.name === name)
  if (!symbol) throw new Error(`${file} exports no interface ${name}`)
  return checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol)).map((p) => p.name)
}

// The installed binary's exports (the CommonJS program's EXPORTS line) must be
// exactly the members of the Addon interface it ships with, none of the lab's.
function checkExports(programOutput, installed) {
  const line = programOutput.split('\n').find((l) => l.startsWith('EXPORTS '))
  if (!line) throw new Error('the CommonJS program did not list the binary\'s exports')
  const exported = JSON.parse(line.slice('EXPORTS '.length)).sort()
  const contract = path.join(installed, 'dist', 'native.d.ts')
  const expected = [...new Set(interfaceMembers(contract, 'Addon'))].sort()
  const lab = interfaceMembers(path.join(root, 'native', 'lab', 'index.d.ts'), 'Lab')
  const problems = []
  for (const n of expected) if (!exported.includes(n)) problems.push(`does not export ${n}`)
  for (const n of exported) if (!expected.includes(n)) problems.push(`exports ${n}, which Addon in dist/native.d.ts does not name`)
  for (const n of lab) if (exported.includes(n)) problems.push(`exports the lab addon's ${n}`)
  if (problems.length) throw new Error(`the prebuild's exports do not match the typed contract:\n  - ${problems.join('\n  - ')}`)
  console.log(`   exports exactly the ${expected.length} names of Addon (dist/native.d.ts): ${expected.join(' ')}`)
  console.log(`   and none of the lab addon's (${lab.join(', ')})`)
}

// A PATH with node, npm, npx and sh only. On Debian /bin is /usr/bin, so
// neither is added. sh is there because npm spawns scripts with `sh` looked
// up on PATH (so does every user's machine); sh is a shell, not a build tool.
function makeBareBin(dir) {
  fs.mkdirSync(dir)
  fs.symlinkSync(process.execPath, path.join(dir, 'node'))
  fs.symlinkSync('/bin/sh', path.join(dir, 'sh'))
  for (const tool of ['npm', 'npx']) {
    const found = whichIn(process.env.PATH || '', tool)
    if (!found) throw new Error(`${tool} not found on PATH`)
    fs.symlinkSync(fs.realpathSync(found), path.join(dir, tool))
  }
  return dir
}

function bareEnv(binDir) {
  const env = {}
  for (const [k, v] of Object.entries(process.env)) {
    // Drop what `npm run` injects (npm_config_*, npm_package_*, npm_lifecycle_*,
    // INIT_CWD...) so the nested npm runs with its default settings.
    if (/^npm_/i.test(k) || k === 'INIT_CWD' || k === 'NODE' || k === 'NODE_OPTIONS') continue
    if (/^(CC|CXX|CMAKE_.*|MAKE|NINJA)$/.test(k)) continue
    env[k] = v
  }
  env.PATH = binDir
  return env
}

function checkNoToolchain(env) {
  const reachable = FORBIDDEN_TOOLS.map((t) => [t, whichIn(env.PATH, t)]).filter(([, f]) => f)
  if (reachable.length) {
    throw new Error(`build tools reachable on the bare PATH: ${reachable.map(([t, f]) => `${t}=${f}`).join(', ')}`)
  }
  // Same question asked of a shell, as npm's scripts would ask it.
  const script = `for t in ${FORBIDDEN_TOOLS.join(' ')}; do command -v "$t" && exit 1; done; exit 0`
  const r = run('/bin/sh', ['-c', script], { env })
  if (r.status !== 0) throw new Error(`/bin/sh finds a build tool on the bare PATH: ${r.stdout.trim()}`)
  for (const tool of ['node', 'npm']) {
    const v = mustRun(tool, ['--version'], { env }).stdout.trim()
    console.log(`   ${tool} ${v} reachable`)
  }
  console.log(`   not reachable: ${FORBIDDEN_TOOLS.join(', ')} (PATH=${env.PATH})`)
}

function main() {
  section('preconditions')
  const present = SHIPPED.filter((f) => fs.existsSync(path.join(root, f)))
  const absent = SHIPPED.filter((f) => !present.includes(f))
  if (RELEASE && absent.length) {
    throw new Error(`--release: missing ${absent.join(', ')}: run \`npm run prebuild\` (all seven targets) first`)
  }
  if (!present.includes(HOST_PREBUILD)) {
    throw new Error(`missing ${HOST_PREBUILD}, this machine's binary: run \`npm run prebuild\` first`)
  }
  // Checked again here (exports, imports, glibc floor), so a binary left in
  // prebuilds/ by hand is held to what `npm run prebuild` holds it to.
  console.log(`   checking the ${present.length} of ${SHIPPED.length} prebuilds that are in prebuilds/:`)
  for (const f of present) console.log(`     ${f}: ${checkPrebuild(path.join(root, f), TARGET_OF[f])}`)
  if (absent.length) {
    console.log(`   NOT checked (not built; a release runs \`npm run prebuild\` with no arguments, then this with --release):`)
    for (const f of absent) console.log(`     ${f}`)
  }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'threadmap-package-'))
  try {
    section('npm pack (prepack compiles dist/)')
    const packDir = path.join(tmp, 'pack')
    fs.mkdirSync(packDir)
    const packed = mustRun('npm', ['pack', '--pack-destination', packDir], { cwd: root })
    const tgzs = fs.readdirSync(packDir).filter((f) => f.endsWith('.tgz'))
    if (tgzs.length !== 1) throw new Error(`npm pack made ${tgzs.length} tarballs:\n${packed.stdout}${packed.stderr}`)
    const tgz = path.join(packDir, tgzs[0])
    const unpacked = mustRun('tar', ['-tvzf', tgz])
      .stdout.split('\n')
      .filter(Boolean)
      .reduce((sum, l) => sum + Number(l.trim().split(/\s+/)[2]), 0)
    console.log(
      `   ${tgzs[0]}: ${(fs.statSync(tgz).size / 1024).toFixed(0)} KiB packed, ${(unpacked / 1024).toFixed(0)} KiB unpacked`,
    )

    section('tarball contents')
    checkTarball(tgz, present)

    section('bare PATH: node, npm, npx, sh only')
    const env = bareEnv(makeBareBin(path.join(tmp, 'bin')))
    checkNoToolchain(env)

    section('npm install <tarball> into an empty folder (default settings, no compiler)')
    const app = path.join(tmp, 'app')
    fs.mkdirSync(app)
    fs.writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify({ name: 'threadmap-package-test', version: '1.0.0', private: true }, null, 2),
    )
    const inst = run('npm', ['install', tgz], { cwd: app, env, timeout: 300_000 })
    const instOut = `${inst.stdout}${inst.stderr}`
    if (instOut.trim()) console.log(indent(instOut))
    if (inst.status !== 0) throw new Error(`npm install of the tarball failed (exit ${inst.status ?? inst.signal})`)
    const installed = path.join(app, 'node_modules', 'threadmap')
    if (!fs.existsSync(path.join(installed, 'package.json'))) throw new Error('node_modules/threadmap is missing')
    if (fs.existsSync(path.join(installed, 'build'))) {
      throw new Error('node_modules/threadmap/build exists: something tried to compile instead of using the prebuild')
    }
    // threadmap has no install script (checked above). The one allowed in
    // its dependency tree is msgpackr's optional native accelerator,
    // msgpackr-extract: msgpackr works without it, and npm 11 runs it only
    // once a user approves it. Any other package npm names fails here.
    const scripted = [...instOut.matchAll(/install-scripts\s+(\S+)@\S+ \(/g)].map((m) => m[1])
    const allowed = new Set(['msgpackr-extract'])
    const unexpected = scripted.filter((name) => !allowed.has(name))
    if (unexpected.length || (/install-scripts|allowScripts/.test(instOut) && scripted.length === 0)) {
      throw new Error(`npm warned about an install script: ${unexpected.join(', ') || '(unparsed warning)'}`)
    }
    console.log(
      scripted.length
        ? `   installed; no build/ folder; install scripts npm named (not run without approval): ${scripted.join(', ')}, msgpackr's optional native helper`
        : '   installed; no build/ folder, and npm said nothing about install scripts',
    )

    // `npm run build-from-source` in the installed package, with a prebuild
    // that loads and no compiler, must find nothing to do.
    const hook = run('node', [path.join('scripts', 'install.js')], { cwd: installed, env, timeout: 60_000 })
    console.log(indent(`${hook.stdout}${hook.stderr}`))
    if (hook.status !== 0) throw new Error(`scripts/install.js failed in the installed package (exit ${hook.status})`)
    if (fs.existsSync(path.join(installed, 'build'))) throw new Error('scripts/install.js built instead of using the prebuild')

    section('CommonJS: require, workerData handle, exact totals')
    fs.writeFileSync(path.join(app, 'cjs-main.cjs'), CJS_MAIN)
    fs.writeFileSync(path.join(app, 'cjs-worker.cjs'), CJS_WORKER)
    const cjs = run('node', ['cjs-main.cjs'], { cwd: app, env, timeout: 120_000 })
    console.log(indent(`${cjs.stdout}${cjs.stderr}`))
    if (cjs.status !== 0) throw new Error(`the CommonJS program failed (exit ${cjs.status ?? cjs.signal})`)
    checkExports(cjs.stdout, installed)

    section('ES module: import, postMessage handle, exact totals')
    fs.writeFileSync(path.join(app, 'esm-main.mjs'), ESM_MAIN)
    fs.writeFileSync(path.join(app, 'esm-worker.mjs'), ESM_WORKER)
    const esm = run('node', ['esm-main.mjs'], { cwd: app, env, timeout: 120_000 })
    console.log(indent(`${esm.stdout}${esm.stderr}`))
    if (esm.status !== 0) throw new Error(`the ES module program failed (exit ${esm.status ?? esm.signal})`)
  } finally {
    if (process.env.THREADMAP_KEEP_TMP === '1') console.log(`\n   kept ${tmp}`)
    else fs.rmSync(tmp, { recursive: true, force: true })
  }
  const scope = absent.length ? `${present.length} of ${SHIPPED.length} prebuilds; not checked: ${absent.join(', ')}` : `all ${SHIPPED.length} prebuilds`
  console.log(`\ntest:package: PASSED (tarball contents with ${scope}; install without a compiler, CJS + ESM + workers)`)
}

try {
  main()
} catch (err) {
  console.error(`\ntest:package: FAILED at step "${step}":\n${err && err.message ? err.message : err}`)
  process.exit(1)
}
