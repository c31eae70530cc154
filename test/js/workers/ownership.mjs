// Ownership passed by compareAndSet, two ways:
//  'lock':  acquire with compareAndSet('lock', absent, id), release with
//           compareAndSet('lock', id, absent); inside, a non-atomic
//           read-modify-write of 'plain' and an 'inside' head count.
//  'token': a token circulates: only the worker named by 'owner' may pass it
//           on, with compareAndSet('owner', id, next).
// Violations of exclusivity are counted and reported, not thrown, so the
// test sees them all.
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const { handle, rounds, id, workers, mode } = workerData
const map = ThreadMap.attach(handle)
const nap = new Int32Array(new SharedArrayBuffer(4))
// Two cores, four workers: after a short spin, give the CPU away briefly so
// the current owner gets to run.
function pause(spins) {
  if (spins % 64 === 63) Atomics.wait(nap, 0, 0, 0.05)
}

let violations = 0
let acquired = 0
if (mode === 'lock') {
  for (let r = 0; r < rounds; r++) {
    for (let spins = 0; !map.compareAndSet('lock', undefined, id); spins++) pause(spins)
    acquired++
    if (map.add('inside', 1) !== 1) violations++
    map.set('plain', map.get('plain') + 1)
    if (map.get('lock') !== id) violations++
    if (map.add('inside', -1) !== 0) violations++
    if (!map.compareAndSet('lock', id, undefined)) violations++
  }
} else {
  for (let r = 0; r < rounds; r++) {
    for (let spins = 0; map.get('owner') !== id; spins++) pause(spins)
    acquired++
    if (map.add('inside', 1) !== 1) violations++
    map.set('plain', map.get('plain') + 1)
    if (map.add('inside', -1) !== 0) violations++
    // Nobody else can move the token now: passing it must succeed, and a
    // second pass of the same token must fail.
    if (!map.compareAndSet('owner', id, (id + 1) % workers)) violations++
    if (map.compareAndSet('owner', id, (id + 1) % workers)) violations++
  }
}
parentPort.postMessage({ type: 'result', id, violations, acquired })
