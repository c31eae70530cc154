// Command-line flags of `npm run bench` (node bench/js/main.mjs [flags]).
// Every flag is --name=value or --name value; lists are comma-separated.

import { parseCpuList, parseNuma } from './placement.mjs'

// Every suite, in the order a run takes them (the default: all of them).
export const SUITES = ['single', 'workers', 'objects', 'churn', 'hitratio', 'fetch', 'cache', 'ranges', 'watch']
// What a run takes when not told: every suite but ranges and watch.
export const DEFAULT_SUITES = SUITES.filter((s) => s !== 'ranges' && s !== 'watch')

export const USAGE = `usage: npm run bench -- [flags]

  --quick                 ~15 s smoke run (what CI runs): short windows, 1 round,
                          sizes 1000,100000, reads 95, uniform, every strategy and peer
  --suites=${DEFAULT_SUITES.join(',')}   which suites to run; also ranges
                          (strategy 'ordered' against a sorted array, one thread)
                          and watch (write cost with 0, 1, 8 watchers; snapshot
                          and refresh under two writers), not in the default set
  --objects-size=100000   keys of the objects suite (session objects, one thread)
  --fetch-keys=64         keys of the fetch suite (2 workers + main fetch them all at once)
  --fetch-load-ms=20      the fetch suite's loader time
  --fetch-rounds=5        fetch suite rounds per mode (alternated)
  --cache-size=100000     maxEntries of the cache suite (get on a full cache
                          against an unbounded map; 1 and 2 workers on it;
                          the policies' bytes per entry)
  --cache-ms=300          timed window of one cache suite figure
  --cache-rounds=5        cache suite rounds (contenders alternated)
  --watch-rounds=5        watch suite rounds (watcher counts alternated)
  --watch-writes=200000   sets per round of the watch suite's write cost
  --watch-size=1000000    entries of the watch suite's snapshot
  --watch-parts=writes,snapshot   which parts of the watch suite to run
  --watch-strategy=striped   the strategy of the watch suite's snapshot part
  --watch-baseline=PATH   dist/index.js of another build, timed beside it with
                          no watcher (e.g. a checkout without watch)
  --sizes=1000,1000000    key counts
  --keys=string           key type: string ("user:" + 8 hex digits) or number
                          (unique integers below 2^32); one per run
  --strategies=LIST       ThreadMap strategies (default: every one the addon has)
  --peers=map,lmdb,sharedmap,message   the alternatives beside ThreadMap
                          (map = V8's Map in one thread, the baseline; always run)
  --reads=95,50           read shares of the workers mix, in percent (100,95,50,10 ...)
  --dists=uniform,zipf    key choice in the workers mix: uniform or Zipf(0.99)
  --threads=1,2           thread counts of the workers suite (default 1..cores)
  --duration=250          timed window of one workers run, ms (alias --mt-ms)
  --mt-rounds=2           workers runs per configuration (the median is reported)
  --retry-starved=2       rerun a workers run up to N times when a thread waited
                          for a CPU (run queue) over 20% of the window (a loaded
                          machine), keeping the attempt that waited least
  --mt-warmup-ms=80       untimed warm-up of each thread before each run
  --ops=get,set,insert    single-thread operations
  --samples=3             timed samples per single-thread figure (median reported)
  --sample-ms=120         length of one timed sample
  --warmup-ms=150         untimed warm-up before each single-thread figure
  --churn-window=1000000  live entries in the churn suite
  --churn-ops=3000000     operations (set new + delete oldest) of one churn run
  --churn-rounds=1        churn runs per contender, each in a fresh process
  --seed=1                seed of the key and order generator
  --numa=POLICY           the numa option of every ThreadMap the bench creates:
                          local, interleave, none (default: the kernel's first
                          touch) or node:N; V8's Map and the peers (lmdb,
                          sharedmap, message) are not placed by threadmap. A node
                          that does not exist stops the run before it starts
  --pin[=CPUS]            pin every benchmark thread to one CPU (numa.pinThread,
                          checked with numa.currentCpu()), round-robin over CPUS
                          (0,1 or 0-3) or, without a list, over the CPUs this
                          process may use: the main thread (single suite, map
                          fills) to the first, worker i to the i-th, the message
                          owner to the next, each churn child to the first
  --out=bench/results     where the JSON, the Markdown summary and the SVG charts go
  --no-charts             skip the SVG charts
  --json=FILE             also write the JSON to FILE
  --help
`

const DEFAULTS = {
  suites: DEFAULT_SUITES,
  sizes: [1_000, 1_000_000],
  keyType: 'string',
  strategies: null, // every strategy of the addon
  peers: ['map', 'lmdb', 'sharedmap', 'message'],
  reads: [95, 50],
  dists: ['uniform', 'zipf'],
  ops: ['get', 'set', 'insert'],
  samples: 3,
  sampleMs: 120,
  warmupMs: 150,
  threads: null, // 1..cores
  mtMs: 250,
  mtRounds: 2,
  mtWarmupMs: 80,
  retryStarved: 2,
  churnWindow: 1_000_000,
  churnOps: 3_000_000,
  churnRounds: 1,
  objectsSize: 100_000,
  fetchKeys: 64,
  fetchLoadMs: 20,
  fetchRounds: 5,
  cacheSize: 100_000,
  cacheMs: 300,
  cacheRounds: 5,
  watchRounds: 5,
  watchWrites: 200_000,
  watchSize: 1_000_000,
  watchParts: ['writes', 'snapshot'],
  watchStrategy: 'striped',
  watchBaseline: null,
  seed: 1,
  out: 'bench/results',
  charts: true,
  json: null,
  quick: false,
  numa: 'none',
  pin: false,
}

const QUICK = {
  sizes: [1_000, 100_000],
  reads: [95],
  dists: ['uniform'],
  samples: 1,
  sampleMs: 40,
  warmupMs: 40,
  mtMs: 150,
  mtRounds: 1,
  mtWarmupMs: 30,
  retryStarved: 0,
  churnWindow: 100_000,
  churnOps: 300_000,
  churnRounds: 1,
  objectsSize: 10_000,
  fetchRounds: 1,
  cacheSize: 10_000,
  cacheMs: 60,
  cacheRounds: 1,
  watchRounds: 1,
  watchWrites: 20_000,
  watchSize: 20_000,
}

const camel = (s) => s.replace(/-([a-z])/g, (_, c) => c.toUpperCase())
const list = (v) => String(v).split(',').map((s) => s.trim()).filter(Boolean)
const numList = (v) =>
  list(v).map((s) => {
    const n = Number(s.replace(/_/g, ''))
    if (!Number.isInteger(n) || n <= 0) throw new Error(`not a positive integer: ${s}`)
    return n
  })
const percentList = (v) =>
  list(v).map((s) => {
    const n = Number(s)
    if (!Number.isInteger(n) || n < 0 || n > 100) throw new Error(`not a percentage: ${s}`)
    return n
  })

const PARSERS = {
  keys: String,
  suites: list,
  sizes: numList,
  strategies: list,
  peers: list,
  reads: percentList,
  dists: list,
  ops: list,
  threads: numList,
  samples: (v) => numList(v)[0],
  sampleMs: (v) => numList(v)[0],
  warmupMs: (v) => Number(v),
  mtMs: (v) => numList(v)[0],
  duration: (v) => numList(v)[0],
  mtRounds: (v) => numList(v)[0],
  mtWarmupMs: (v) => Number(v),
  retryStarved: (v) => Number(v),
  churnWindow: (v) => numList(v)[0],
  churnOps: (v) => numList(v)[0],
  churnRounds: (v) => numList(v)[0],
  objectsSize: (v) => numList(v)[0],
  fetchKeys: (v) => numList(v)[0],
  fetchLoadMs: (v) => numList(v)[0],
  fetchRounds: (v) => numList(v)[0],
  cacheSize: (v) => numList(v)[0],
  cacheMs: (v) => numList(v)[0],
  cacheRounds: (v) => numList(v)[0],
  watchRounds: (v) => numList(v)[0],
  watchWrites: (v) => numList(v)[0],
  watchSize: (v) => numList(v)[0],
  watchParts: (v) => v.split(','),
  watchStrategy: String,
  watchBaseline: String,
  seed: (v) => numList(v)[0],
  out: String,
  json: String,
  numa: parseNuma,
  pin: parseCpuList,
}

/**
 * @param {string[]} argv
 * @param {{strategies: readonly string[], cores: number}} env what the addon and machine offer
 */
export function parseArgs(argv, env) {
  const given = {}
  let quick = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--help' || arg === '-h') return { help: true }
    if (arg === '--quick') {
      quick = true
      continue
    }
    if (arg === '--no-charts') {
      given.charts = false
      continue
    }
    if (arg === '--pin') {
      // A bare --pin, or --pin followed by a CPU list (nothing else is positional).
      given.pin = /^\d[\d,-]*$/.test(argv[i + 1] ?? '') ? parseCpuList(argv[++i]) : true
      continue
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg)
    if (!m) throw new Error(`unknown argument ${arg}\n\n${USAGE}`)
    let key = camel(m[1])
    if (!(key in PARSERS)) throw new Error(`unknown flag --${m[1]}\n\n${USAGE}`)
    const value = m[2] ?? argv[++i]
    if (value === undefined) throw new Error(`--${m[1]} needs a value`)
    const parsed = PARSERS[key](value)
    if (key === 'duration') key = 'mtMs'
    if (key === 'keys') key = 'keyType'
    given[key] = parsed
  }
  const opts = { ...DEFAULTS, ...(quick ? QUICK : {}), ...given, quick }
  opts.strategies ??= [...env.strategies]
  opts.threads ??= Array.from({ length: Math.max(1, env.cores) }, (_, i) => i + 1)
  if (!opts.peers.includes('map')) opts.peers = ['map', ...opts.peers]
  for (const s of opts.suites) {
    if (!SUITES.includes(s)) throw new Error(`unknown suite ${s}`)
  }
  for (const s of opts.strategies) {
    if (!env.strategies.includes(s)) throw new Error(`unknown strategy ${s} (this build has ${env.strategies.join(', ')})`)
  }
  for (const p of opts.peers) {
    if (!['map', 'lmdb', 'sharedmap', 'message'].includes(p)) throw new Error(`unknown peer ${p}`)
  }
  if (!['string', 'number'].includes(opts.keyType)) throw new Error(`--keys is string or number`)
  for (const d of opts.dists) {
    if (!['uniform', 'zipf'].includes(d)) throw new Error(`unknown distribution ${d}`)
  }
  for (const o of opts.ops) {
    if (!['get', 'set', 'insert'].includes(o)) throw new Error(`unknown op ${o}`)
  }
  if (opts.churnOps % 2) opts.churnOps += 1
  return opts
}
