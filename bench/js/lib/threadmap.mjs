// The package under test, loaded from the compiled dist/ (npm run bench
// compiles it first), plus the constructors the suites share.

import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
export const distPath = path.resolve(here, '..', '..', '..', 'dist', 'index.js')

let cached = null
function loadPackage() {
  if (cached) return cached
  const require = createRequire(import.meta.url)
  let pkg
  try {
    pkg = require(distPath)
  } catch (err) {
    throw new Error(
      `cannot load ${distPath} (${err.message}).\n` +
        'Run `npm install` (builds the addon) and `npm run build:ts`, or use `npm run bench`.',
    )
  }
  if (typeof pkg.ThreadMap !== 'function') throw new Error(`${distPath} exports no ThreadMap class`)
  cached = pkg
  return cached
}

export function loadThreadMap() {
  return loadPackage().ThreadMap
}

/** threadmap.numa: topology, pinThread, currentCpu for the calling thread. */
export function loadNuma() {
  return loadPackage().numa
}

// String (or number) keys, number values: the workload every suite measures.
// `numa` is ThreadMap's numa option (--numa).
export function newThreadMap(strategy, keys = 'string', numa = 'none') {
  const ThreadMap = loadThreadMap()
  return new ThreadMap(null, { keys, values: 'number', strategy, numa })
}

export function closeQuietly(map) {
  if (map && typeof map.close === 'function') map.close()
}

export function statsOf(map) {
  try {
    return typeof map.stats === 'function' ? map.stats() : null
  } catch {
    return null
  }
}
