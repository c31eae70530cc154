// Where the run's memory and threads were, so every report says what it
// measured: the NUMA policy of every ThreadMap the bench creates (--numa; V8's
// Map and the peers lmdb, sharedmap and message are not placed by threadmap)
// with what stats().numa read back from the kernel per table, and the CPU each
// benchmark thread was pinned to (--pin) with what numa.currentCpu() saw.
//
// Pinning: thread k of the run gets CPU cpus[k % cpus.length], where cpus is
// the --pin list, or for a bare --pin the CPUs this process may use. The main
// thread (which runs the single suite and fills the shared maps) is thread 0
// and is pinned before anything runs; worker i of the workers suite is thread
// i, the owner thread of the `message` peer the thread after the workers, and
// each churn child process (its main thread) thread 0. Node's own helper
// threads (V8's garbage collector and compiler, libuv's pool) are not pinned.
// Every pinned thread pins
// itself, checks numa.currentCpu() at once and again after each run, and
// fails the run if it ever answers another CPU.

import { loadNuma } from './threadmap.mjs'

/** --numa's value as ThreadMap's `numa` option (the library's parser: numa.parsePolicy). */
export function parseNuma(value) {
  try {
    return loadNuma().parsePolicy(String(value).trim())
  } catch (err) {
    throw new Error(`--numa ${value}: ${err.message}`)
  }
}

/** 'none', 'local', 'interleave' or 'node:N': the option as --numa spells it. */
export function numaLabel(option) {
  return typeof option === 'object' && option !== null ? `node:${option.node}` : String(option)
}

/** A CPU list: "0,1", "0-3,6"; order kept, repeats dropped. */
export function parseCpuList(value) {
  const cpus = []
  for (const part of String(value).split(',').map((s) => s.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part)
    if (!m) throw new Error(`--pin ${value}: not a CPU list; use CPU numbers and ranges, e.g. 0,1 or 0-3`)
    const lo = Number(m[1])
    const hi = m[2] === undefined ? lo : Number(m[2])
    if (hi < lo) throw new Error(`--pin ${value}: range ${part} runs backwards`)
    for (let c = lo; c <= hi; c++) if (!cpus.includes(c)) cpus.push(c)
  }
  return cpus
}

/**
 * Pins the calling thread to `cpu` and returns the CPU numa.currentCpu()
 * then reports (-1: unknown on this platform).
 */
export function pinSelf(numa, cpu, who) {
  numa.pinThread(cpu)
  return checkCpu(numa, cpu, who)
}

/** numa.currentCpu() for a thread pinned to `cpu`; throws when it is another CPU. */
export function checkCpu(numa, cpu, who) {
  const seen = numa.currentCpu()
  if (seen !== -1 && seen !== cpu) {
    throw new Error(`${who}: pinned to CPU ${cpu}, but numa.currentCpu() says it runs on CPU ${seen}`)
  }
  return seen
}

const setText = (values) => `{${[...values].sort((a, b) => a - b).join(', ')}}`
const overCpus = (cpus) => (cpus.length === 1 ? `to CPU ${cpus[0]}` : `round-robin over CPUs ${cpus.join(', ')}`)
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`
const countsText = (counts) =>
  Object.entries(counts)
    .map(([k, n]) => `${k} x${n}`)
    .join(', ')

/**
 * The run's placement log. `numa` is the package's numa object, `opts` the
 * parsed flags. Pins the main thread when --pin is given (before anything
 * runs): pinThread checks every CPU it is given (a RangeError names the
 * online ones) and returns the CPUs the thread could use before, so pinning
 * to the --pin list first checks the whole list, and pinning to the CPU the
 * thread is on (always allowed) learns the CPUs a bare --pin goes round.
 */
export function createPlacement(numa, opts) {
  let pin = null
  if (opts.pin) {
    const list = Array.isArray(opts.pin) ? opts.pin : null
    const before = numa.pinThread(list ?? [numa.currentCpu()])
    const cpus = list ?? before
    pin = { cpus, from: list ? '--pin list' : 'the CPUs this process may use', before }
  }
  const maps = new Map() // `${suite}|${strategy}` -> aggregate
  const threads = new Map() // who -> { cpu, seen: Set of CPUs, unknown: answers of -1, checks }

  const placement = {
    pin,
    /** The CPU of the run's thread k, or null when not pinning. */
    cpuFor(k) {
      return pin ? pin.cpus[k % pin.cpus.length] : null
    },
    /**
     * Runs fn, which starts a child process, with the main thread's CPUs as
     * they were before --pin: a child inherits the affinity of the thread that
     * forks it, so its V8 helper threads (started before its own code runs)
     * would all share the main thread's CPU. The child pins its own thread.
     */
    unpinnedWhile(fn) {
      if (!pin) return fn()
      numa.pinThread(pin.before)
      try {
        return fn()
      } finally {
        numa.pinThread(pin.cpus[0])
      }
    },
    /** Records what numa.currentCpu() said in thread `who`, pinned to `cpu`. */
    saw(who, cpu, seen) {
      if (!threads.has(who)) threads.set(who, { cpu, seen: new Set(), unknown: 0, checks: 0 })
      const t = threads.get(who)
      if (seen === -1) t.unknown++
      else t.seen.add(seen)
      t.checks++
    },
    /** Records the stats().numa of one ThreadMap of `strategy` in `suite`. */
    addMap(suite, strategy, stats) {
      const key = `${suite}|${strategy}`
      if (!maps.has(key)) {
        maps.set(key, {
          suite,
          strategy,
          maps: 0,
          applied: stats.applied,
          reason: stats.reason ?? null,
          simulated: stats.simulated,
          tables: 0,
          placements: {},
          nodes: new Set(),
          kernelPolicies: new Set(),
          errors: new Set(),
        })
      }
      const a = maps.get(key)
      a.maps++
      for (const t of stats.tables) {
        a.tables++
        a.placements[t.placement] = (a.placements[t.placement] ?? 0) + 1
        if (t.node >= 0) a.nodes.add(t.node)
        if (t.kernelPolicy) a.kernelPolicies.add(t.kernelNodes?.length ? `${t.kernelPolicy} ${setText(t.kernelNodes)}` : t.kernelPolicy)
        if (t.error) a.errors.add(t.error)
      }
    },
    /** One header line: what was asked. */
    header() {
      const numaText =
        numaLabel(opts.numa) === 'none'
          ? 'numa: none (kernel default)'
          : `numa: ${numaLabel(opts.numa)} on every ThreadMap (Map and the peers are not placed by threadmap)`
      const pinText = pin ? `threads pinned ${overCpus(pin.cpus)} (${pin.from})` : 'threads not pinned'
      return `${numaText}, ${pinText}`
    },
    /** Text lines: what the kernel said. */
    lines() {
      const label = numaLabel(opts.numa)
      const out = [
        `Placement: numa ${label}${label === 'none' ? ' (kernel default)' : ''} on every ThreadMap; Map, lmdb, sharedmap and message are not placed by threadmap`,
      ]
      const width = Math.max(0, ...[...maps.values()].map((a) => `${a.suite} ${a.strategy}`.length))
      for (const a of maps.values()) {
        const name = `${a.suite} ${a.strategy}`.padEnd(width)
        const count = plural(a.maps, 'map')
        if (!a.applied) {
          out.push(`  ${name}  ${count}: not placed (${a.reason})`)
          continue
        }
        const parts = [`${count}, ${plural(a.tables, 'table')}: ${countsText(a.placements)}`]
        if (a.kernelPolicies.size) parts.push(`kernel policy ${[...a.kernelPolicies].join(' / ')}`)
        parts.push(a.nodes.size ? `pages read back on node ${setText(a.nodes)}` : 'no page read back')
        if (a.errors.size) parts.push(`errors: ${[...a.errors].join('; ')}`)
        if (a.simulated) parts.push('simulated topology (THREADMAP_SYSFS_ROOT)')
        out.push(`  ${name}  ${parts.join('; ')}`)
      }
      if (!maps.size) out.push('  no ThreadMap was created')
      if (!pin) {
        out.push('Pinning: threads not pinned (the kernel chose their CPUs)')
        return out
      }
      out.push(`Pinning: ${overCpus(pin.cpus)} (${pin.from})`)
      const w = Math.max(0, ...[...threads.keys()].map((k) => k.length))
      for (const [who, t] of threads) {
        const said = [...[...t.seen].sort((x, y) => x - y), ...(t.unknown ? [`-1 (unknown) ${t.unknown}x`] : [])]
        out.push(`  ${who.padEnd(w)}  pinned to CPU ${t.cpu}; numa.currentCpu() said ${said.join(', ')} in ${plural(t.checks, 'check')}`)
      }
      return out
    },
    toJSON() {
      return {
        numa: { option: opts.numa, label: numaLabel(opts.numa) },
        pin,
        maps: [...maps.values()].map((a) => ({
          ...a,
          nodes: [...a.nodes].sort((x, y) => x - y),
          kernelPolicies: [...a.kernelPolicies],
          errors: [...a.errors],
        })),
        threads: [...threads].map(([who, t]) => ({
          thread: who,
          cpu: t.cpu,
          seen: [...t.seen].sort((x, y) => x - y),
          unknown: t.unknown,
          checks: t.checks,
        })),
      }
    },
  }
  if (pin) placement.saw('main thread', pin.cpus[0], pinSelf(numa, pin.cpus[0], 'main thread'))
  return placement
}
