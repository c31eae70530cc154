// Reads a shared map through its read cache. With `reads`: gets 'u' that
// many times and reports the cache's counts and how many gets made no
// native call (read off the io buffer: an io call leaves noRef in the
// reference slot, a hit without a call writes nothing). Otherwise reads
// k0..k31 in a loop after saying 'reading', until terminated, or with
// `untilClosed` until a get throws, which it reports with how many gets
// made no call.
import { createRequire } from 'node:module'
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const require = createRequire(import.meta.url)
const { io, IO_LAYOUT } = require('../../../dist/native.js')

const { handle, reads, untilClosed } = workerData
const map = ThreadMap.attach(handle)
if (reads !== undefined) {
  let fast = 0
  for (let i = 0; i < reads; i++) {
    io[IO_LAYOUT.ref] = -12345
    map.get('u')
    if (io[IO_LAYOUT.ref] === -12345) fast++
    io[IO_LAYOUT.ref] = IO_LAYOUT.noRef
  }
  const { hits, misses } = map.stats().readCache
  parentPort.postMessage({ type: 'result', hits, misses, fast })
} else {
  const keys = Array.from({ length: 32 }, (_, i) => `k${i}`)
  let fast = 0
  const pass = () => {
    for (const k of keys) {
      io[IO_LAYOUT.ref] = -12345
      map.get(k)
      if (io[IO_LAYOUT.ref] === -12345) fast++
    }
  }
  pass() // misses: now cached
  pass() // hits, counted before the main thread can act
  parentPort.postMessage({ type: 'reading' })
  let error = ''
  for (;;) {
    try {
      pass()
    } catch (e) {
      error = String(e?.message ?? e)
      break
    }
    // Let the main thread's messages and termination in between reads.
    if (untilClosed) await new Promise((r) => setImmediate(r))
  }
  parentPort.postMessage({ type: 'result', error, fast })
}
