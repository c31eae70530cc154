'use strict'
// A smoke test of one prebuild on the machine (or emulator) it is for: every
// key and value type round-trips, every strategy answers, two workers add to
// shared counters while the main thread does, and a closed map refuses use.
// Loads the package from this checkout (dist/ + prebuilds/) with
// PREBUILDS_ONLY=1, so build/Release cannot stand in for the prebuild.
// Run by scripts/prebuild.js (the host's own target), scripts/smoke-cross.sh
// (linux-arm64 under qemu-user, win32-x64 under wine) and the CI workflow's
// native runners. Prints one line naming the binary, or fails.
//
//   node scripts/smoke.cjs

process.env.PREBUILDS_ONLY = '1'
const assert = require('node:assert/strict')
const path = require('node:path')
const { Worker, isMainThread, workerData } = require('node:worker_threads')

const root = path.resolve(__dirname, '..')
const { ThreadMap, STRATEGIES } = require(path.join(root, 'dist', 'index.js'))
const ROUNDS = 20_000

if (!isMainThread) {
  const map = ThreadMap.attach(workerData.handle)
  for (let i = 0; i < ROUNDS; i++) map.add(`c${i % 4}`, 1)
  map.set(`worker:${workerData.id}`, 1)
  return
}

const KEYS = {
  string: ['', 'k', 'ключ', 'x'.repeat(300)],
  number: [0, -1, 0.5, NaN, 2 ** 53],
  bigint: [0n, -(2n ** 70n), 2n ** 64n],
  bytes: [new Uint8Array([]), new Uint8Array([1, 2, 3])],
  any: ['1', 1, 1n, true, null],
}
const VALUES = {
  string: ['', 'value', '値'.repeat(100)],
  number: [0, -0.25, Infinity],
  bigint: [1n, -(2n ** 90n)],
  boolean: [true, false],
  bytes: [new Uint8Array([9, 8, 7])],
  json: [{ a: [1, 'two', null] }, [1, 2]],
  structured: [new Date(0), new Map([[1, new Set([2])]])],
  any: ['s', 2, 3n, false, { o: 1 }],
}

async function main() {
  let checks = 0
  for (const [keys, ks] of Object.entries(KEYS)) {
    for (const [values, vs] of Object.entries(VALUES)) {
      const m = new ThreadMap(null, { keys, values })
      ks.forEach((k, i) => m.set(k, vs[i % vs.length]))
      ks.forEach((k, i) => assert.deepEqual(m.get(k), vs[i % vs.length], `${keys} => ${values}`))
      assert.equal(m.size, ks.length)
      m.close()
      checks++
    }
  }
  for (const strategy of STRATEGIES) {
    const m = new ThreadMap(null, { keys: 'number', values: 'number', strategy })
    for (let i = 0; i < 5000; i++) m.set(i, i * 2)
    for (let i = 0; i < 5000; i += 7) assert.equal(m.get(i), i * 2, strategy)
    assert.equal(m.size, 5000)
    m.close()
  }

  const shared = new ThreadMap(null, { keys: 'string', values: 'number' })
  const workers = [0, 1].map((id) => new Worker(__filename, { workerData: { handle: shared.handle(), id } }))
  const exits = workers.map(
    (w) =>
      new Promise((resolve, reject) => {
        w.on('error', reject)
        w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`))))
      }),
  )
  for (let i = 0; i < ROUNDS; i++) shared.add(`c${i % 4}`, 1)
  await Promise.all(exits)
  for (let c = 0; c < 4; c++) assert.equal(shared.get(`c${c}`), (3 * ROUNDS) / 4)
  assert.equal(shared.size, 6)
  shared.close()
  assert.throws(() => shared.get('c0'), Error)

  const file = require('node-gyp-build').path(root)
  assert.ok(file.includes(`${path.sep}prebuilds${path.sep}`), `loaded ${file}`)
  console.log(
    `smoke OK: node ${process.version} ${process.platform}-${process.arch}; ${checks} key/value type pairs, ` +
      `${STRATEGIES.length} strategies, 3 threads x ${ROUNDS} adds, close; ${path.relative(root, file)}`,
  )
}

main().catch((err) => {
  console.error('smoke FAILED:', err && err.stack ? err.stack : err)
  process.exit(1)
})
