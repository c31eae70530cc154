// Heavy writes until terminated: sets, deletes, swaps, counters, updates and
// iterations on a shared map, plus a private map only this worker holds
// (which the environment cleanup hook must free when the worker is killed).
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const { handle, id } = workerData
const map = ThreadMap.attach(handle)
const mine = new ThreadMap(null, { keys: 'number', values: 'string' })
mine.set(1, 'private')
const values = [1, 'text', 2n ** 70n, { nested: [1, 2, 3] }, null, true, new Date(0), 'x'.repeat(100)]
let i = 0
for (;;) {
  const k = `w${id % 8}:${i % 512}`
  switch (i % 8) {
    case 0:
    case 1:
      map.set(k, values[i % values.length])
      break
    case 2:
      map.delete(k)
      break
    case 3:
      map.swap(k, values[(i + 3) % values.length])
      break
    case 4:
      map.add(`count:${id % 4}`, 1)
      break
    case 5:
      map.update(`upd:${i % 16}`, (v) => (typeof v === 'number' ? v + 1 : 1))
      break
    case 6:
      if (i % 1024 === 6) for (const [key] of map) if (key === 'never') break
      break
    default:
      mine.set(i % 64, 'v'.repeat(i % 50))
  }
  // Tell the parent once the loop is well under way; it terminates us from
  // then on, at whatever point we have reached.
  if (++i === 2000) parentPort.postMessage({ type: 'busy', id })
}
