// fetch() from a worker (test/js/map.fetch.test.ts): every mode fetches
// `keys` from the shared map and reports what each fetch gave.
//   slow:    the loader counts its run (add on 'runs:<key>'), waits loadMs
//            and until the map has counted untilWaits waits, returns
//            'value:<key>' (or throws when fail is set)
//   hang:    the loader says 'loading' and never settles
//   spin:    the loader says 'loading' and spins forever (its event loop
//            stuck: it cannot run its own timeout)
import { parentPort, workerData } from 'node:worker_threads'

import { ThreadMap } from '../../../esm/index.mjs'

const { handle, keys, mode, loadMs = 0, untilWaits = 0, fail = false, timeout, ttl, barrier = false } = workerData
const map = ThreadMap.attach(handle)
// timeout and ttl: fetch's own options, when given
const options =
  timeout === undefined && ttl === undefined
    ? undefined
    : { ...(timeout === undefined ? {} : { timeout }), ...(ttl === undefined ? {} : { ttl }) }

function loader(key) {
  map.add(`runs:${key}`, 1)
  if (mode === 'hang') {
    parentPort.postMessage({ type: 'loading', key })
    return new Promise(() => {})
  }
  if (mode === 'spin') {
    parentPort.postMessage({ type: 'loading', key })
    for (;;) {
      // stuck
    }
  }
  return new Promise((resolve, reject) => {
    const done = () => {
      if (map.stats().loads.waits < untilWaits) setTimeout(done, 2)
      else if (fail) reject(Object.assign(new TypeError(`no ${key}`), { code: 'E_LOAD' }))
      else resolve(`value:${key}`)
    }
    setTimeout(done, loadMs)
  })
}

if (barrier) {
  const go = new Promise((resolve) => parentPort.once('message', resolve))
  parentPort.postMessage({ type: 'ready' })
  await go
}

const results = await Promise.all(
  keys.map((key) =>
    map.fetch(key, loader, options).then(
      (value) => ({ key, value }),
      (err) => ({ key, error: { message: err.message, name: err.name, code: err.code, ctor: err.constructor.name } }),
    ),
  ),
)
parentPort.postMessage({ type: 'result', results })
