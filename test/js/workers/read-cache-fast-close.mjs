// Attaches to a map, reads it, closes it and says so: the main thread's
// cached entries of the map must not be served after that.
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const map = ThreadMap.attach(workerData.handle)
map.get('u')
map.close()
parentPort.postMessage({ type: 'closed' })
