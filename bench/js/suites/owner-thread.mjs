// The owner thread of the `message` peer: it builds its own V8 Map of the n
// keys, then serves clients. Each client arrives as { port, flag }: requests
// on the port are [key] (get) or [key, value] (set); the reply goes back on
// the port, then the client's flag is raised and notified so the client,
// blocked in Atomics.wait, reads it with receiveMessageOnPort. Under --pin
// (workerData.cpu not null) it pins itself first and reports what
// numa.currentCpu() said.

import { parentPort, workerData } from 'node:worker_threads'
import { makeKeys } from '../lib/keys.mjs'
import { pinSelf } from '../lib/placement.mjs'
import { loadNuma } from '../lib/threadmap.mjs'

const { n, seed, keyType, cpu } = workerData
const seen = cpu === null ? null : pinSelf(loadNuma(), cpu, 'message owner')
const keys = makeKeys(n, seed, keyType)
const map = new Map()
for (let i = 0; i < n; i++) map.set(keys[i], i)

parentPort.on('message', (msg) => {
  if (msg.cmd === 'client') {
    const { port, flag } = msg
    const f = new Int32Array(flag)
    port.on('message', (req) => {
      let reply
      if (req.length === 1) reply = map.get(req[0])
      else {
        map.set(req[0], req[1])
        reply = true
      }
      port.postMessage(reply)
      Atomics.store(f, 0, 1)
      Atomics.notify(f, 0)
    })
  } else if (msg.cmd === 'size') {
    parentPort.postMessage({ size: map.size })
  } else if (msg.cmd === 'exit') {
    process.exit(0)
  }
})
parentPort.postMessage({ started: true, seen })
