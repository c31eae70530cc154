// ES module entry: re-exports the CommonJS build, so `import` and `require`
// share one module instance (one ThreadMap class, one addon binding).
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const cjs = require('../dist/index.js')

export const ThreadMap = cjs.ThreadMap
export const liveMaps = cjs.liveMaps
export const MAX_KEY_BYTES = cjs.MAX_KEY_BYTES
export const MAX_VALUE_BYTES = cjs.MAX_VALUE_BYTES
export const STRATEGIES = cjs.STRATEGIES
export const numa = cjs.numa
export const Snapshot = cjs.Snapshot
export const Watcher = cjs.Watcher
export const WatchCompactedError = cjs.WatchCompactedError
export const WATCH_EVENT_TYPES = cjs.WATCH_EVENT_TYPES
export default cjs.ThreadMap
