// close() from another thread: 'victim' uses the map until its calls throw
// and reports the error; 'closer' closes the map itself.
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const { handle, role } = workerData
const map = ThreadMap.attach(handle)
if (role === 'closer') {
  map.close()
  parentPort.postMessage({ type: 'result', closed: map.closed })
} else {
  let calls = 0
  let error = null
  parentPort.postMessage({ type: 'ready' })
  try {
    for (;;) {
      map.set(`k${calls % 100}`, calls)
      map.get(`k${calls % 50}`)
      if (calls % 100 === 0) for (const entry of map) void entry
      calls++
    }
  } catch (err) {
    error = { name: err.constructor.name, message: err.message }
  }
  // Every later call throws the same way.
  const later = []
  for (const call of [() => map.get('k1'), () => map.size, () => map.add('k', 1), () => map.handle()]) {
    try {
      call()
      later.push('no error')
    } catch (err) {
      later.push(err.message)
    }
  }
  parentPort.postMessage({ type: 'result', calls, error, later })
}
