// Bytes per entry of one map in a process of its own (started with
// --expose-gc by suites/boundary.mjs and by capacity.mjs), so heap and RSS
// growth belong to that map alone.
//
//   argv: impl ('map' | 'threadmap'), n, strategy, 'grown' | 'presized'
//
// Fills n entries 'key:' + i -> i (a ThreadMap with string keys and number
// values; 'presized' sets options.capacity = n, so the tables never grow),
// collects garbage twice, and prints one JSON line: growth of V8's used heap
// and of RSS per entry, the map's own accounting (stats().bytes) per entry,
// and the time the fill took. A Map past 2^24 entries reports the RangeError
// V8 throws and how many entries it held.

import { collectGarbage as gcNow, memorySample as mem } from '../lib/measure.mjs'
import { loadThreadMap } from '../lib/threadmap.mjs'

const [impl, nArg, strategy = 'auto', mode = 'grown'] = process.argv.slice(2)
const n = Number(nArg)

// The module is loaded first and the baseline taken before the map is made:
// a presized map commits part of its memory when it is created (tables under
// 1 MiB come from the heap, zeroed), and that is part of what its entries
// cost; loading the addon is not.
const ThreadMap = impl === 'map' ? null : loadThreadMap()
gcNow()
const before = mem()
const map =
  impl === 'map' ? new Map() : new ThreadMap(null, { keys: 'string', values: 'number', strategy, capacity: mode === 'presized' ? n : 0 })

const t0 = process.hrtime.bigint()
let filled = 0
let error = null
try {
  for (; filled < n; filled++) map.set('key:' + filled, filled)
} catch (err) {
  error = `${err.name}: ${err.message}`
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9
gcNow()
const after = mem()
const per = (bytes) => (filled ? bytes / filled : 0)
if (map.size !== filled) throw new Error(`size ${map.size}, expected ${filled}`)
if (filled && map.get('key:' + (filled - 1)) !== filled - 1) throw new Error('the last entry is wrong')
const stats = impl === 'map' ? null : map.stats()
console.log(
  JSON.stringify({
    impl,
    strategy: impl === 'map' ? null : stats.strategy,
    mode: impl === 'map' ? null : mode,
    entries: filled,
    error,
    seconds,
    heapBytesPerEntry: per(after.heap - before.heap),
    rssBytesPerEntry: per(after.rss - before.rss),
    nativeBytesPerEntry: stats ? per(stats.bytes) : null,
    capacity: stats ? stats.capacity : null,
    rssMB: after.rss / 2 ** 20,
  }),
)
if (impl !== 'map') map.close()
