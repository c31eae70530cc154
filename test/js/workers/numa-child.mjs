// Run as a separate process with THREADMAP_SYSFS_ROOT pointing at a fake
// sysfs tree (the topology is read once per process): exercises the NUMA map
// option against that topology and prints one JSON object on stdout.
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'

import { ThreadMap, liveMaps, numa } from '../../../esm/index.mjs'

const placements = (map) => map.stats().numa
const error = (fn) => {
  try {
    fn()
    return null
  } catch (err) {
    return { name: err.name, message: err.message }
  }
}

const topology = numa.topology()
const out = { topology, fixed: [], refused: null }
const ids = topology.nodes.map((n) => n.id)

// { node: k } for every node, and one past the last.
for (const id of ids) {
  const m = new ThreadMap(null, { numa: { node: id }, capacity: 50_000 })
  out.fixed.push({ node: id, numa: placements(m) })
  m.close()
}
const live = liveMaps()
out.refused = error(() => new ThreadMap(null, { numa: { node: Math.max(...ids) + 1 } }))
out.liveUnchanged = liveMaps() === live

const il = new ThreadMap(null, { numa: 'interleave', capacity: 50_000 })
out.interleave = placements(il)
il.close()

// local: the creating thread's node, then the growing thread's node.
if (topology.error === undefined) {
  const original = numa.pinThread(1)
  out.cpuWhenCreated = numa.currentCpu()
  const m = new ThreadMap(null, { keys: 'string', values: 'number', numa: 'local' })
  const stripes = m.stats().stripes
  for (let i = 0; i < 50 * stripes; i++) m.set(`main:${i}`, i)
  out.localCreated = placements(m)
  const w = new Worker(new URL('./numa-pin.mjs', import.meta.url), {
    workerData: { cpu: 0, handle: m.handle(), keys: 400 * stripes },
  })
  // A test seam: block this thread until the worker has certainly finished,
  // as a busy machine may, so that its message and its exit arrive together.
  const stall = Number(process.env.THREADMAP_TEST_NUMA_CHILD_STALL_MS ?? 0)
  if (stall > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, stall)
  // Both listeners go on before the first await: the worker's exit may be
  // delivered in the same turn as its message, before a listener added
  // after the message was seen.
  const exited = once(w, 'exit')
  const [result] = await once(w, 'message')
  await exited
  out.growerCpus = result.cpus
  out.localGrown = placements(m)
  m.close()
  numa.pinThread(original)
}
process.stdout.write(JSON.stringify(out))
