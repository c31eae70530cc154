'use strict'
// The loader of the lab addon (build/lab/threadmap_lab.node, built from
// native/lab by `npm run build:native`): the boundary bench's floor, the
// JS suite's linearizability checker and the hit-ratio simulator, which the
// package does not ship. The
// bench (bench/js, .mjs) and the tests (test/js, TypeScript, typed by
// index.d.ts beside this file) both load it here. A missing or stale build is
// an Error that says how to make one: a bench row or a test that needs the
// lab never skips quietly.

const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..', '..')
const file = path.join(root, 'build', 'lab', 'threadmap_lab.node')
const BUILD = 'run `npm run build:native` (it builds the lab addon beside build/Release/threadmap.node)'

let cached = null

function loadLab() {
  if (cached) return cached
  const rel = path.relative(root, file)
  if (!fs.existsSync(file)) {
    throw new Error(
      `threadmap lab: ${rel} is missing. The lab addon holds the bench's lookup floor and the tests' ` +
        `linearizability checker, and the package does not ship it: ${BUILD}`,
    )
  }
  let lab
  try {
    lab = require(file)
  } catch (err) {
    throw new Error(`threadmap lab: cannot load ${rel} (${err && err.message}): ${BUILD}`, { cause: err })
  }
  if (typeof lab !== 'object' || lab === null || typeof lab.checkLinearizable !== 'function' || typeof lab.floor?.lookup !== 'function' || typeof lab.cacheSim !== 'function') {
    throw new Error(`threadmap lab: ${rel} does not export floor, checkLinearizable and cacheSim: ${BUILD}`)
  }
  cached = lab
  return lab
}

exports.loadLab = loadLab
