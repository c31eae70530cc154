// Sets `key` to `value` in a shared map and reports back, so the main
// thread can check that its read cache does not hand out the old value.
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const { handle, key, value, del } = workerData
const map = ThreadMap.attach(handle)
if (del) map.delete(key)
else map.set(key, value)
parentPort.postMessage({ type: 'result', readCache: map.stats().readCache })
