// Command-line flags of `npm run bench` (node bench/js/main.mjs [flags]).
// Every flag is --name=value or --name value; lists are comma-separated.

export const USAGE = `usage: npm run bench -- [flags]

  --quick                 ~10 s smoke run (short samples, sizes 1000,100000)
  --suites=single,workers which suites to run
  --sizes=1000,1000000    key counts (string keys, looked up in random order)
  --strategies=striped,mutex
  --ops=get,set,insert    single-thread operations
  --samples=5             timed samples per figure (the median is reported)
  --sample-ms=200         length of one timed sample
  --warmup-ms=300         untimed warm-up before each figure
  --threads=1,2           thread counts of the workers suite
  --mt-ms=700             timed window of one workers run
  --mt-rounds=3           workers runs per configuration (the median is reported)
  --mt-warmup-ms=200      untimed warm-up of each thread before each run
  --mt-set-percent=5      share of set in the workers mix (the rest is get)
  --seed=1                seed of the key and order generator
  --json=FILE             also write every figure and the machine as JSON
  --help
`

const DEFAULTS = {
  suites: ['single', 'workers'],
  sizes: [1_000, 1_000_000],
  strategies: ['striped', 'mutex'],
  ops: ['get', 'set', 'insert'],
  samples: 5,
  sampleMs: 200,
  warmupMs: 300,
  threads: [1, 2],
  mtMs: 700,
  mtRounds: 3,
  mtWarmupMs: 200,
  mtSetPercent: 5,
  seed: 1,
  json: null,
  quick: false,
}

const QUICK = {
  sizes: [1_000, 100_000],
  samples: 3,
  sampleMs: 60,
  warmupMs: 80,
  mtMs: 250,
  mtRounds: 2,
  mtWarmupMs: 50,
}

const camel = (s) => s.replace(/-([a-z])/g, (_, c) => c.toUpperCase())
const list = (v) => String(v).split(',').map((s) => s.trim()).filter(Boolean)
const numList = (v) =>
  list(v).map((s) => {
    const n = Number(s.replace(/_/g, ''))
    if (!Number.isInteger(n) || n <= 0) throw new Error(`not a positive integer: ${s}`)
    return n
  })

const PARSERS = {
  suites: list,
  sizes: numList,
  strategies: list,
  ops: list,
  threads: numList,
  samples: (v) => numList(v)[0],
  sampleMs: (v) => numList(v)[0],
  warmupMs: (v) => Number(v),
  mtMs: (v) => numList(v)[0],
  mtRounds: (v) => numList(v)[0],
  mtWarmupMs: (v) => Number(v),
  mtSetPercent: (v) => Number(v),
  seed: (v) => numList(v)[0],
  json: String,
}

export function parseArgs(argv) {
  const given = {}
  let quick = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--help' || arg === '-h') return { help: true }
    if (arg === '--quick') {
      quick = true
      continue
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg)
    if (!m) throw new Error(`unknown argument ${arg}\n\n${USAGE}`)
    const key = camel(m[1])
    if (!(key in PARSERS)) throw new Error(`unknown flag --${m[1]}\n\n${USAGE}`)
    const value = m[2] ?? argv[++i]
    if (value === undefined) throw new Error(`--${m[1]} needs a value`)
    given[key] = PARSERS[key](value)
  }
  const opts = { ...DEFAULTS, ...(quick ? QUICK : {}), ...given, quick }
  for (const s of opts.suites) {
    if (!['single', 'workers'].includes(s)) throw new Error(`unknown suite ${s}`)
  }
  for (const o of opts.ops) {
    if (!['get', 'set', 'insert'].includes(o)) throw new Error(`unknown op ${o}`)
  }
  if (!(opts.mtSetPercent >= 0 && opts.mtSetPercent <= 100)) throw new Error('--mt-set-percent is 0..100')
  return opts
}
