// Child process of map.faults.test.ts: drives one map (strategy, maxMemory
// and phase from argv) to its memory limit with keys and values long enough
// to go out of line, through every writing operation, and checks after each
// one that a RangeError changed nothing and that the map equals a Map model.
// A crash ends this process with a signal, which the parent reports. Phases:
//   ops        growth to the limit, every writing operation there, batches,
//              take and reinsert, clear() and a refill
//   promotion  delete and reinsert around readmostly's promotion and
//              dirty-table building, three times from a full map
import assert from 'node:assert/strict'

import { ThreadMap } from '../../../esm/index.mjs'

const [strategy, limitText, phase] = process.argv.slice(2)
const maxMemory = Number(limitText)
const options = { keys: 'string', values: 'any', strategy, maxMemory }
const m = new ThreadMap(null, options)
const freshBytes = new ThreadMap(null, options).stats().bytes
const model = new Map()

// Keys of more than 14 bytes: readmostly's tables then hold them out of line too.
const key = (i) => `a key longer than fourteen bytes: ${i}`
const value = (i, g) => `value ${i}.${g} `.padEnd(40 + (i % 7) * 8, '*')
const longer = (v) => v + '+'.repeat(24)

let ops = 0
let refused = 0

function same(label) {
  assert.equal(m.size, model.size, `${label}: size`)
  for (const [k, v] of model) assert.deepEqual(m.get(k), v, `${label}: get(${k})`)
  const seen = new Map(m.entries())
  assert.equal(seen.size, model.size, `${label}: entries() count`)
  for (const [k, v] of seen) assert.deepEqual(v, model.get(k), `${label}: entries() has ${k}`)
}

function isLimit(e) {
  return e instanceof RangeError && /maxMemory/.test(e.message)
}

// One write: on a maxMemory RangeError nothing may have changed; otherwise
// `apply` applies it to the model (given the write's result).
function attempt(label, write, apply) {
  ops++
  let result
  try {
    result = write()
  } catch (e) {
    if (!isLimit(e)) throw e
    refused++
    same(`${label} (refused)`)
    return false
  }
  apply(result)
  same(label)
  return true
}

const set = (k, v) => attempt(`set ${k}`, () => m.set(k, v), () => model.set(k, v))

function fill(from) {
  let i = from
  for (let misses = 0; misses < 3; i++) {
    if (set(key(i), value(i, 0))) misses = 0
    else misses++
  }
  return i
}

let next = 0

function phaseOps() {
  // Growth: new keys until three in a row are refused.
  next = fill(0)
  assert.ok(refused > 0, 'the fill reached maxMemory')
  const filled = [...model.keys()]

  // Every writing operation at the limit.
  for (let j = 0; j < filled.length; j += 3) {
    const k = filled[j]
    const cur = model.get(k)
    set(k, longer(cur))
    attempt(`swap ${k}`, () => m.swap(k, longer(longer(cur))), (old) => {
      assert.deepEqual(old, model.get(k))
      model.set(k, longer(longer(cur)))
    })
    const now = model.get(k)
    attempt(`compareAndSet ${k}`, () => m.compareAndSet(k, now, longer(now)), (done) => {
      assert.equal(done, true)
      model.set(k, longer(now))
    })
    attempt(`update ${k}`, () => m.update(k, (v) => longer(v)), (v) => model.set(k, v))
    const fresh = key(next++)
    attempt(`setIfAbsent ${fresh}`, () => m.setIfAbsent(fresh, value(next, 1)), (done) => {
      assert.equal(done, true)
      model.set(fresh, value(next, 1))
    })
    const fresh2 = key(next++)
    attempt(`getOrSet ${fresh2}`, () => m.getOrSet(fresh2, value(next, 2)), (v) => {
      assert.equal(v, value(next, 2))
      model.set(fresh2, v)
    })
    const counter = `counter, also a long key: ${j}`
    attempt(`add ${counter}`, () => m.add(counter, 3), (n) => {
      assert.equal(n, (model.get(counter) ?? 0) + 3)
      model.set(counter, n)
    })
    // A batch: the entries before the refused index were set, none from it on.
    const batch = Array.from({ length: 6 }, (_, b) => [key(next + b), value(next + b, 3)])
    next += batch.length
    ops++
    try {
      m.setMany(batch)
      for (const [bk, bv] of batch) model.set(bk, bv)
    } catch (e) {
      if (!isLimit(e)) throw e
      refused++
      const at = Number(/at index (\d+)/.exec(e.message)?.[1])
      assert.ok(at >= 0 && at < batch.length, `setMany names the index: ${e.message}`)
      for (const [bk, bv] of batch.slice(0, at)) model.set(bk, bv)
    }
    same('setMany')
  }

  const taken = [...model.keys()].filter((_, i) => i % 5 === 1)
  for (const k of taken) {
    ops++
    assert.deepEqual(m.take(k), model.get(k))
    model.delete(k)
    set(k, value(8, 6))
  }
  same('take and reinsert')


  // clear() gives every byte back: the accounting matches a fresh map's, and
  // the map fills again.
  m.clear()
  model.clear()
  same('clear')
  assert.equal(m.stats().bytes, freshBytes, 'stats().bytes after clear() is a fresh map\'s')
  fill(0)
  same('refill')
  m.clear()
}

function phasePromotion() {
  // Deletes then reinsertions, and (readmostly) promotion. From a map filled
  // from empty with no reads (readmostly: every key in its dirty table; the
  // check after each write reads every key, which promotes as it goes), reads that miss
  // promote the dirty table, which leaves the map about as full as before;
  // deletes then leave entries that the next new key's dirty table must
  // expunge, and at the limit that build fails part-way; then writes to the
  // deleted keys. Three rounds, each after clear(), deleting a quarter, a third
  // and half of the keys, so that the build fails at different points.
  for (const every of [4, 3, 2]) {
    m.clear()
    model.clear()
    // No reads between these writes: readmostly would promote on them.
    for (;; next++) {
      ops++
      try {
        m.set(key(next), value(next, 0))
      } catch (e) {
        if (!isLimit(e)) throw e
        refused++
        break
      }
      model.set(key(next), value(next, 0))
    }
    same('fill without reads')
    for (let r = 0; r < 4 * model.size + 64; r++) m.get(`missing ${r % 97}`)
    same('reads')
    const deleted = [...model.keys()].filter((_, i) => i % every === 0)
    for (const k of deleted) {
      ops++
      assert.equal(m.delete(k), true)
      model.delete(k)
    }
    same('deletes')
    for (let t = 0; t < 4; t++) set(key(next++), value(next, 4))
    for (const k of deleted) set(k, value(7, 5))
  }
}

if (phase === 'ops') phaseOps()
else if (phase === 'promotion') phasePromotion()
else throw new Error(`unknown phase ${phase}`)
process.stdout.write(JSON.stringify({ ops, refused }) + '\n')
