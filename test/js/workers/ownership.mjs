// Ownership passed by compareAndSet, two ways:
//  'lock':  acquire with compareAndSet('lock', absent, id), release with
//           compareAndSet('lock', id, absent); inside, a non-atomic
//           read-modify-write of 'plain' and an 'inside' head count.
//  'token': a token circulates: 'owner' counts the passes, and the worker
//           whose turn it is (owner % workers) passes it on with
//           compareAndSet('owner', t, t + 1). A counter rather than the
//           worker's id, so a pass repeated late (after the token went all
//           the way round back to this worker) cannot succeed: with ids it
//           could (ABA), and a descheduled worker once gave away its own
//           next turn that way, leaving the others waiting for ever.
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
    const turn = r * workers + id // the pass count at which the token is ours
    for (let spins = 0; map.get('owner') !== turn; spins++) pause(spins)
    acquired++
    if (map.add('inside', 1) !== 1) violations++
    map.set('plain', map.get('plain') + 1)
    if (map.add('inside', -1) !== 0) violations++
    // Nobody else can move the token now: passing it must succeed, and a
    // second pass of the same token must fail.
    if (!map.compareAndSet('owner', turn, turn + 1)) violations++
    if (map.compareAndSet('owner', turn, turn + 1)) violations++
  }
}
parentPort.postMessage({ type: 'result', id, violations, acquired })
