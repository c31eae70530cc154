// Records a history for the linearizability test: `histories` rounds, each
// started on a barrier shared with the other workers so they contend on the
// same two keys, each operation stamped with a shared logical clock just
// before the call and just after it returns. In `broken` mode setIfAbsent is
// replaced by a check-then-act (get, then set) that the checker must reject;
// a second barrier between the check and the act makes every worker check
// before any acts, so the lost update happens on every run, not only when
// the scheduler happens to interleave the workers. With `clockId` (the id of
// a map made with `ttl`), one operation in seven moves the map's test clock
// by 1 ms instead, recorded as an `advance` (lincheck.hpp, "Expiry").
import { createRequire } from 'node:module'
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const { handle, id, workers, histories, ops, sab, broken, clockId } = workerData
const addon = clockId === undefined ? null : createRequire(import.meta.url)('../../../dist/native.js').addon
const map = ThreadMap.attach(handle)
const shared = new Int32Array(sab) // [0] barrier arrivals, [1] clock, [2] check-then-act barrier
const values = [1n, 2n, 3n]
let seed = id * 2654435761 + 1
const rand = (n) => {
  seed = (seed * 1103515245 + 12345) >>> 0
  return (seed >>> 8) % n
}

// Waits until every worker has arrived for the `round`th time at barrier
// counter `at` (0: round starts, 2: between check and act in broken mode).
function barrier(round, at = 0) {
  const target = workers * (round + 1)
  if (Atomics.add(shared, at, 1) + 1 === target) {
    Atomics.notify(shared, at)
    return
  }
  for (;;) {
    const seen = Atomics.load(shared, at)
    if (seen >= target) return
    Atomics.wait(shared, at, seen, 50)
  }
}

const now = () => Atomics.add(shared, 1, 1)

const log = []
for (let h = 0; h < histories; h++) {
  barrier(h)
  for (let i = 0; i < ops; i++) {
    // Broken mode concentrates on the faulty operation: everyone races to
    // set one fresh key first.
    const key = broken ? `${h}:0` : `${h}:${rand(2)}`
    const value = values[rand(3)]
    const op = { key }
    const choice = broken ? 2 : rand(addon === null ? 6 : 7)
    op.invoked = now()
    switch (choice) {
      case 6: {
        addon.testAdvanceClock(clockId, 1)
        Object.assign(op, { kind: 'advance', key: '', delta: 1n, result: 'ok' })
        break
      }
      case 0: {
        const v = map.get(key)
        Object.assign(op, { kind: 'get', result: v === undefined ? 'not_found' : 'ok', out: v })
        break
      }
      case 1: {
        const old = map.swap(key, value)
        Object.assign(op, { kind: 'put', value, result: old === undefined ? 'inserted' : 'ok', out: old })
        break
      }
      case 2: {
        let set
        if (broken) {
          set = map.get(key) === undefined
          barrier(h * ops + i, 2) // every worker has checked; now all act
          if (set) map.set(key, value)
        } else {
          set = map.setIfAbsent(key, value)
        }
        Object.assign(op, { kind: 'put_if_absent', value, result: set ? 'inserted' : 'exists', outUnknown: !set })
        break
      }
      case 3: {
        const expectAbsent = rand(3) === 0
        const erase = rand(4) === 0
        const expected = expectAbsent ? undefined : values[rand(3)]
        const next = erase ? undefined : value
        const ok = map.compareAndSet(key, expected, next)
        Object.assign(op, { kind: 'compare_and_set', expected, value: next })
        if (ok) op.result = expectAbsent && !erase ? 'inserted' : 'ok'
        else Object.assign(op, { result: 'mismatch', casFailed: true, outUnknown: true })
        break
      }
      case 4: {
        const old = map.take(key)
        Object.assign(op, { kind: 'erase', result: old === undefined ? 'not_found' : 'ok', out: old })
        break
      }
      default: {
        const delta = BigInt(rand(3) - 1)
        const counter = map.add(key, delta)
        Object.assign(op, { kind: 'add', delta, counter, result: 'ok', outUnknown: true })
      }
    }
    op.responded = now()
    log.push(op)
  }
}
// With the readCache option: how many gets the worker's cache answered.
parentPort.postMessage({ type: 'result', log, hits: map.stats().readCache?.hits ?? 0 })
