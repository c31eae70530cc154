// Long-lived helper for the lifetime test. Messages from the parent:
//   {type: 'attach', handles}  attach each, check and write, drop them, reply
//   {type: 'create', count}    create maps, send their handles, keep them
//                              until {type: 'ack'}, then drop them
//   {type: 'gc'}               collect garbage, reply
//   {type: 'hold', count}      create maps and keep them until the worker ends
import { setImmediate as tick } from 'node:timers/promises'
import { parentPort } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

let pending = null
const held = []

parentPort.on('message', async (m) => {
  switch (m.type) {
    case 'attach': {
      let ok = 0
      for (const h of m.handles) {
        const map = ThreadMap.attach(h)
        if (map.get('from') === 'main') ok++
        map.set('seen', 'worker')
      }
      parentPort.postMessage({ type: 'attached', ok })
      break
    }
    case 'create': {
      pending = []
      for (let i = 0; i < m.count; i++) {
        const map = new ThreadMap(null, { keys: 'string', values: 'string' })
        map.set('from', 'worker')
        pending.push(map)
      }
      parentPort.postMessage({ type: 'created', handles: pending.map((x) => x.handle()) })
      break
    }
    case 'ack':
      pending = null
      parentPort.postMessage({ type: 'acked' })
      break
    case 'hold':
      for (let i = 0; i < m.count; i++) held.push(new ThreadMap())
      parentPort.postMessage({ type: 'holding', count: held.length })
      break
    case 'gc':
      for (let i = 0; i < 3; i++) {
        globalThis.gc()
        await tick()
      }
      parentPort.postMessage({ type: 'collected' })
      break
  }
})
