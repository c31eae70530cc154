// Opens a watch and waits on it: with ref, until terminated; without, the
// worker must exit by itself.
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const { handle, ref } = workerData
const map = ThreadMap.attach(handle)
const w = map.watch({ ref })
parentPort.postMessage({ type: 'watching' })
void w.next()
