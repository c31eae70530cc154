// readmostly under maxMemory, from JavaScript: a write that runs out of
// memory is a RangeError that changes nothing, whatever step of the strategy
// it fails in. The sequence runs in a child process, so that a crash (the
// SIGSEGV of issue 12) fails this test instead of taking the test runner down.
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'

import { expect, test } from 'vitest'

const root = path.join(__dirname, '..', '..')

// Fill until RangeError with 60-byte keys (stored out of line), delete every
// other key, read until the dirty table is promoted, add a new key (whose copy
// of the read table runs out of memory part-way for most maxMemory values),
// then write each deleted key with one kind of write. The child compares the
// map with a model after each step and prints one JSON line per run.
const child = `
import { ThreadMap } from ${JSON.stringify(path.join(root, 'esm', 'index.mjs'))}
const key = (i) => String(i).padStart(60, 'k')
const writes = {
  set: (m, k) => m.set(k, 7),
  setIfAbsent: (m, k) => m.setIfAbsent(k, 7),
  compareAndSet: (m, k) => m.compareAndSet(k, undefined, 7),
  add: (m, k) => m.add(k, 7),
}
const same = (m, model) => {
  if (m.size !== model.size) return false
  const seen = new Map(m)
  if (seen.size !== model.size) return false
  for (const [k, v] of model) if (seen.get(k) !== v || m.get(k) !== v) return false
  return true
}
// Runs write(m, k); true if it wrote, false on RangeError (anything else throws).
const attempt = (write, m, k) => {
  try { write(m, k); return true } catch (e) { if (e instanceof RangeError) return false; throw e }
}
for (const [name, write] of Object.entries(writes)) {
  for (let maxMemory = 10000; maxMemory <= 200000; maxMemory += 5000) {
    const m = new ThreadMap(null, { keys: 'string', values: 'number', strategy: 'readmostly', maxMemory })
    const model = new Map()
    let n = 0
    while (attempt((m, k) => m.set(k, n), m, key(n))) { model.set(key(n), n); n++ }
    for (let i = 0; i < n; i += 2) { m.delete(key(i)); model.delete(key(i)) }
    let reads = 0
    while (m.stats().numa.tables.length !== 1 && reads < 1e6) { m.get(key(1)); reads++ }
    const promoted = m.stats().numa.tables.length === 1
    const newKey = attempt(writes.set, m, key(n + 1))
    if (newKey) model.set(key(n + 1), 7)
    const afterNewKey = same(m, model)
    let revived = 0
    for (let i = 0; i < n; i += 2) if (attempt(write, m, key(i))) { model.set(key(i), 7); revived++ }
    const afterRevive = same(m, model)
    m.close()
    console.log(JSON.stringify({ name, maxMemory, n, promoted, newKey, afterNewKey, revived, afterRevive }))
  }
}
`

test('readmostly: a write that runs out of memory copying the read table is a RangeError that changes nothing', () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', child], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  })
  expect(r.signal, r.stderr).toBeNull()
  expect(r.status, r.stderr).toBe(0)
  const runs = r.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
  expect(runs.length).toBe(4 * 39)
  for (const run of runs) {
    expect(run, JSON.stringify(run)).toMatchObject({ promoted: true, afterNewKey: true, afterRevive: true })
    expect(run.n as number).toBeGreaterThan(10)
  }
  // The sweep reaches the failing copy: most runs cannot add the new key.
  expect(runs.filter((run) => !run.newKey).length).toBeGreaterThan(runs.length / 2)
})
